/// Elementwise and strided loops that the compiler vectorizes.
///
/// They are `@inlinable` so that a caller with a concrete scalar type and a literal closure gets
/// one specialized, inlined loop.
public enum ElementwiseKernels {
    /// `output[i] = transform(input[i])`.
    @inlinable @inline(__always)
    public static func map<Scalar>(
        _ input: UnsafeBufferPointer<Scalar>, into output: UnsafeMutableBufferPointer<Scalar>,
        _ transform: (Scalar) -> Scalar
    ) {
        let count = output.count
        guard count > 0 else { return }
        let x = input.baseAddress!, y = output.baseAddress!
        for i in 0..<count { y[i] = transform(x[i]) }
    }

    /// The strides of one operand broadcast against `shape`: 0 along dimensions it repeats.
    @inlinable
    static func broadcastStrides(_ operand: [Int], to shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: shape.count)
        var stride = 1
        let offset = shape.count - operand.count
        for axis in operand.indices.reversed() {
            if operand[axis] != 1 { strides[axis + offset] = stride }
            stride *= operand[axis]
        }
        return strides
    }

    /// `output = combine(lhs, rhs)` with NumPy broadcasting. `shape` is the broadcast shape,
    /// which the caller has checked; `output` is contiguous with that shape.
    @inlinable @inline(__always)
    public static func broadcast<Scalar>(
        _ lhs: UnsafeBufferPointer<Scalar>, shape lhsShape: [Int],
        _ rhs: UnsafeBufferPointer<Scalar>, shape rhsShape: [Int],
        into output: UnsafeMutableBufferPointer<Scalar>, shape: [Int],
        _ combine: (Scalar, Scalar) -> Scalar
    ) {
        let count = output.count
        guard count > 0 else { return }
        let a = lhs.baseAddress!, b = rhs.baseAddress!, y = output.baseAddress!
        // Fast paths: same shape, or one side a single scalar.
        if lhs.count == count && rhs.count == count {
            for i in 0..<count { y[i] = combine(a[i], b[i]) }
            return
        }
        if rhs.count == 1 {
            let s = b[0]
            if lhs.count == count {
                for i in 0..<count { y[i] = combine(a[i], s) }
                return
            }
        }
        if lhs.count == 1 && rhs.count == count {
            let s = a[0]
            for i in 0..<count { y[i] = combine(s, b[i]) }
            return
        }
        // General path: collapse dimensions, then loop over the innermost one.
        var (dims, aStrides, bStrides) = collapse(
            shape, broadcastStrides(lhsShape, to: shape), broadcastStrides(rhsShape, to: shape))
        if dims.isEmpty { (dims, aStrides, bStrides) = ([1], [0], [0]) }
        let inner = dims.last!, sa = aStrides.last!, sb = bStrides.last!
        let outerRank = dims.count - 1
        var index = [Int](repeating: 0, count: outerRank)
        var aOffset = 0, bOffset = 0, yOffset = 0
        while yOffset < count {
            let ya = a + aOffset, yb = b + bOffset, yy = y + yOffset
            switch (sa, sb) {
            case (1, 1): for i in 0..<inner { yy[i] = combine(ya[i], yb[i]) }
            case (1, 0):
                let s = yb[0]
                for i in 0..<inner { yy[i] = combine(ya[i], s) }
            case (0, 1):
                let s = ya[0]
                for i in 0..<inner { yy[i] = combine(s, yb[i]) }
            default: for i in 0..<inner { yy[i] = combine(ya[i * sa], yb[i * sb]) }
            }
            yOffset += inner
            // Advance the odometer over the outer dimensions.
            var axis = outerRank - 1
            while axis >= 0 {
                index[axis] += 1
                aOffset += aStrides[axis]
                bOffset += bStrides[axis]
                if index[axis] < dims[axis] { break }
                aOffset -= aStrides[axis] * dims[axis]
                bOffset -= bStrides[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Merges adjacent dimensions along which both operands advance as one contiguous run, and
    /// drops dimensions of size 1.
    @inlinable
    static func collapse(_ shape: [Int], _ aStrides: [Int], _ bStrides: [Int])
        -> ([Int], [Int], [Int])
    {
        var dims: [Int] = [], sa: [Int] = [], sb: [Int] = []
        for axis in shape.indices where shape[axis] != 1 {
            if let last = dims.last,
                sa.last! == aStrides[axis] * shape[axis], sb.last! == bStrides[axis] * shape[axis]
            {
                dims[dims.count - 1] = last * shape[axis]
                sa[sa.count - 1] = aStrides[axis]
                sb[sb.count - 1] = bStrides[axis]
            } else {
                dims.append(shape[axis])
                sa.append(aStrides[axis])
                sb.append(bStrides[axis])
            }
        }
        return (dims, sa, sb)
    }

    /// Copies `source` (contiguous, `shape`) into `destination` with its axes permuted:
    /// destination axis `i` is source axis `permutation[i]`.
    @inlinable
    public static func permute<Scalar>(
        _ source: UnsafeBufferPointer<Scalar>, shape: [Int], permutation: [Int],
        into destination: UnsafeMutableBufferPointer<Scalar>
    ) {
        let count = destination.count
        guard count > 0 else { return }
        var sourceStrides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() {
            sourceStrides[axis] = sourceStrides[axis + 1] * shape[axis + 1]
        }
        // Source axes that stay adjacent and in order move as one: [1, 0, 2, 3] copies whole
        // [2, 3] planes instead of rows.
        var dims: [Int] = [], strides: [Int] = []
        for (index, axis) in permutation.enumerated() {
            if index > 0, axis == permutation[index - 1] + 1 {
                dims[dims.count - 1] *= shape[axis]
                strides[strides.count - 1] = sourceStrides[axis]
            } else {
                dims.append(shape[axis])
                strides.append(sourceStrides[axis])
            }
        }
        let x = source.baseAddress!, y = destination.baseAddress!
        guard let inner = dims.last else {
            y[0] = x[0]
            return
        }
        let innerStride = strides.last!
        let outerRank = dims.count - 1
        var index = [Int](repeating: 0, count: outerRank)
        var offset = 0, yOffset = 0
        while yOffset < count {
            let xs = x + offset, ys = y + yOffset
            if innerStride == 1 {
                ys.update(from: xs, count: inner)
            } else {
                for i in 0..<inner { ys[i] = xs[i * innerStride] }
            }
            yOffset += inner
            var axis = outerRank - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < dims[axis] { break }
                offset -= strides[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
