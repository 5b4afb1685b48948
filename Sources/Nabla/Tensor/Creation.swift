// Tensors made from nothing: constants, identities and ranges.

extension Tensor {
    /// A tensor of `shape` filled with zeros.
    @inlinable
    public static func zeros(shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// A tensor of `shape` filled with ones.
    @inlinable
    public static func ones(shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A tensor of zeros with the shape of `other`.
    @inlinable
    public static func zeros(like other: Tensor) -> Tensor { zeros(shape: other.shape) }

    /// The `[n, n]` identity matrix.
    public static func identity(_ n: Int) -> Tensor {
        Misuse.check(n >= 0, "identity", "size \(n) is negative")
        var result = zeros(shape: [n, n])
        result.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<n { buffer[i * n + i] = 1 }
        }
        return result
    }

    /// The rank-1 tensor `[start, start + step, …]` of the values below `end` (above it for a
    /// negative `step`).
    public static func range(from start: Scalar, to end: Scalar, by step: Scalar = 1) -> Tensor {
        Misuse.check(
            step != 0 && step.isFinite && start.isFinite && end.isFinite, "range",
            "from \(start) to \(end) by \(step): bounds and step must be finite, step non-zero")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(unsafeUninitializedShape: [count]) { buffer in
            for i in 0..<count { buffer[i] = start + Scalar(i) * step }
        }
    }

    /// `count` evenly spaced values from `start` to `end`, both included.
    public static func linearSpace(from start: Scalar, to end: Scalar, count: Int) -> Tensor {
        Misuse.check(count >= 0, "linearSpace", "count \(count) is negative")
        let step = count > 1 ? (end - start) / Scalar(count - 1) : 0
        return Tensor(unsafeUninitializedShape: [count]) { buffer in
            for i in 0..<count { buffer[i] = i == count - 1 ? end : start + Scalar(i) * step }
        }
    }
}
