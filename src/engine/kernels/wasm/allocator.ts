/**
 * A small allocator over a byte range that only grows (the WebAssembly memory): best-fit from a list of
 * free blocks sorted by address, coalescing neighbours on free, else a bump pointer at the top.
 *
 * Why not size classes: layers allocate a few long-lived buffers of odd sizes (weights, per-batch-size
 * activations) and free them when the batch size changes (train 100 → eval 2000 → train 100); best fit with
 * coalescing reuses that space, where power-of-two classes would waste up to half of it. The number of live
 * blocks is small (hundreds), so linear scans cost nothing next to the kernels.
 */
export class RangeAllocator {
  /** Every block is aligned to (and sized in multiples of) this many bytes: a cache line, and 16 for v128. */
  static readonly ALIGN = 64;
  private top: number;
  /** Free blocks [offset, size], sorted by offset, never adjacent (coalesced). */
  private readonly freeList: { offset: number; size: number }[] = [];
  /** Live blocks: offset → size in bytes. */
  private readonly live = new Map<number, number>();
  /** Bytes currently handed out (for statistics). */
  liveBytes = 0;

  /**
   * @param base first usable byte offset (aligned up to ALIGN)
   * @param ensure called with the end offset of a new block before it is handed out: grows the memory
   */
  constructor(base: number, private readonly ensure: (end: number) => void) {
    this.top = RangeAllocator.roundUp(base);
  }

  private static roundUp(n: number): number {
    return Math.ceil(n / RangeAllocator.ALIGN) * RangeAllocator.ALIGN;
  }

  /** The highest offset ever handed out (the memory's high-water mark). */
  get highWater(): number {
    return this.top;
  }

  /** A block of at least `bytes` bytes; returns its byte offset. Contents are whatever was there. */
  alloc(bytes: number): number {
    const size = Math.max(RangeAllocator.ALIGN, RangeAllocator.roundUp(bytes));
    let best = -1;
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i]!;
      if (b.size >= size && (best < 0 || b.size < this.freeList[best]!.size)) {
        best = i;
        if (b.size === size) break;
      }
    }
    let offset: number;
    if (best >= 0) {
      const b = this.freeList[best]!;
      offset = b.offset;
      if (b.size === size) this.freeList.splice(best, 1);
      else {
        b.offset += size;
        b.size -= size;
      }
    } else {
      // A free block that ends at the top is extended rather than left behind.
      const last = this.freeList[this.freeList.length - 1];
      if (last && last.offset + last.size === this.top) {
        this.freeList.pop();
        offset = last.offset;
      } else offset = this.top;
      this.ensure(offset + size);
      this.top = offset + size;
    }
    this.live.set(offset, size);
    this.liveBytes += size;
    return offset;
  }

  /** The size of the live block at `offset`, or undefined when no block starts there. */
  sizeOf(offset: number): number | undefined {
    return this.live.get(offset);
  }

  /** Give back the block at `offset`. Returns false (and does nothing) when no live block starts there. */
  free(offset: number): boolean {
    const size = this.live.get(offset);
    if (size === undefined) return false;
    this.live.delete(offset);
    this.liveBytes -= size;
    // Insert sorted, then merge with the previous and next free blocks.
    let lo = 0;
    let hi = this.freeList.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeList[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    let block = { offset, size };
    const prev = this.freeList[lo - 1];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += size;
      block = prev;
    } else {
      this.freeList.splice(lo, 0, block);
      lo += 1;
    }
    const next = this.freeList[lo];
    if (next && block.offset + block.size === next.offset) {
      block.size += next.size;
      this.freeList.splice(lo, 1);
    }
    return true;
  }
}
