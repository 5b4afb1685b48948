/// Reduction loops over a contiguous tensor viewed as `[outer, extent, inner]`, reducing the
/// middle dimension.
public enum ReductionKernels {
    /// The sum of channel `channel` of `x` (`[N, C, P]`: `batch` images of `channels` planes of
    /// `plane` scalars): each plane summed by ``sum(_:)``, the planes added image by image.
    @inlinable
    static func channelSum<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, channel: Int, channels: Int, batch: Int, plane: Int
    ) -> Scalar {
        var total: Scalar = 0
        for image in 0..<batch {
            let offset = (image * channels + channel) * plane
            total += sum(UnsafeBufferPointer(rebasing: x[offset..<(offset + plane)]))
        }
        return total
    }

    /// The sum of `x`: pairwise over blocks of 4096, with SIMD accumulators inside a block, so
    /// the rounding error grows with log(count), not count. NaN and infinities propagate.
    @inlinable
    public static func sum<Scalar: TensorScalar>(_ x: UnsafeBufferPointer<Scalar>) -> Scalar {
        let count = x.count
        guard count > 4096 else { return blockSum(x) }
        let half = (count / 2 + 4095) / 4096 * 4096
        return sum(UnsafeBufferPointer(rebasing: x[..<half]))
            + sum(UnsafeBufferPointer(rebasing: x[half...]))
    }

    @inlinable
    static func blockSum<Scalar: TensorScalar>(_ x: UnsafeBufferPointer<Scalar>) -> Scalar {
        let count = x.count
        guard count > 0 else { return 0 }
        let base = x.baseAddress!
        let lanes = 8
        var a0 = SIMD8<Scalar>(), a1 = SIMD8<Scalar>(), a2 = SIMD8<Scalar>(), a3 = SIMD8<Scalar>()
        var i = 0
        let raw = UnsafeRawPointer(base)
        let stride = MemoryLayout<Scalar>.stride
        while i + 4 * lanes <= count {
            a0 += raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self)
            a1 += raw.loadUnaligned(fromByteOffset: (i + lanes) * stride, as: SIMD8<Scalar>.self)
            a2 += raw.loadUnaligned(
                fromByteOffset: (i + 2 * lanes) * stride, as: SIMD8<Scalar>.self)
            a3 += raw.loadUnaligned(
                fromByteOffset: (i + 3 * lanes) * stride, as: SIMD8<Scalar>.self)
            i += 4 * lanes
        }
        var total = ((a0 + a1) + (a2 + a3)).sum()
        while i < count {
            total += base[i]
            i += 1
        }
        return total
    }

    /// `y[o, j] = combine over r of x[o, r, j]`, starting from `x[o, 0, j]`.
    ///
    /// `x` has `outer · extent · inner` elements and `y` `outer · inner`; `extent ≥ 1`.
    @inlinable @inline(__always)
    public static func reduce<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, outer: Int, extent: Int, inner: Int,
        into y: UnsafeMutableBufferPointer<Scalar>,
        _ combine: (Scalar, Scalar) -> Scalar
    ) {
        guard outer > 0, inner > 0 else { return }
        let xs = x.baseAddress!, ys = y.baseAddress!
        for o in 0..<outer {
            let block = xs + o * extent * inner, row = ys + o * inner
            if inner == 1 {
                var accumulator = block[0]
                for r in 1..<max(extent, 1) { accumulator = combine(accumulator, block[r]) }
                row[0] = accumulator
            } else {
                row.update(from: block, count: inner)
                for r in 1..<max(extent, 1) {
                    let source = block + r * inner
                    for j in 0..<inner { row[j] = combine(row[j], source[j]) }
                }
            }
        }
    }

    /// Sums the middle dimension of `[outer, extent, inner]`; uses SIMD rows when `inner == 1`.
    @inlinable
    public static func sum<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, outer: Int, extent: Int, inner: Int,
        into y: UnsafeMutableBufferPointer<Scalar>
    ) {
        if extent == 0 {
            y.initialize(repeating: 0)
        } else if inner == 1 {
            for o in 0..<outer {
                y[o] = sum(UnsafeBufferPointer(rebasing: x[(o * extent)..<((o + 1) * extent)]))
            }
        } else {
            reduce(x, outer: outer, extent: extent, inner: inner, into: y, +)
        }
    }

    /// The index along the middle dimension of the largest (or, with `largest` false, smallest)
    /// element of each `[o, :, j]` line; the first one wins ties, and a NaN beats every number.
    @inlinable
    public static func argExtreme<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, outer: Int, extent: Int, inner: Int, largest: Bool,
        into indices: UnsafeMutableBufferPointer<Int>
    ) {
        guard outer > 0, inner > 0, extent > 0 else { return }
        let xs = x.baseAddress!
        for o in 0..<outer {
            for j in 0..<inner {
                let line = xs + o * extent * inner + j
                var best = line[0], bestIndex = 0
                if !best.isNaN {
                    for r in 1..<extent {
                        let value = line[r * inner]
                        if value.isNaN {
                            bestIndex = r
                            break
                        }
                        if largest ? value > best : value < best { (best, bestIndex) = (value, r) }
                    }
                }
                indices[o * inner + j] = bestIndex
            }
        }
    }
}

extension TensorScalar {
    /// The larger of two values, NaN if either is NaN (Swift's `max` would drop a NaN).
    @inlinable @inline(__always)
    public static func maximumPropagatingNaN(_ a: Self, _ b: Self) -> Self {
        a > b || a.isNaN ? a : b
    }

    /// The smaller of two values, NaN if either is NaN.
    @inlinable @inline(__always)
    public static func minimumPropagatingNaN(_ a: Self, _ b: Self) -> Self {
        a < b || a.isNaN ? a : b
    }
}
