/// How far one tensor is from another: the outcome of ``Tensor/closeness(to:rtol:atol:)``.
public struct Closeness<Scalar: TensorScalar>: Sendable, CustomStringConvertible {
    /// Whether every pair satisfies `|actual − expected| ≤ atol + rtol · |expected|`.
    public let isClose: Bool
    /// The row-major index of the pair that exceeds its tolerance by the most (or comes closest
    /// to it); `nil` for empty tensors.
    public let worstIndex: [Int]?
    /// The values at ``worstIndex``.
    public let actual: Scalar, expected: Scalar
    /// The largest absolute difference, and the largest difference relative to `|expected|`.
    public let maxAbsoluteError: Scalar, maxRelativeError: Scalar

    public var description: String {
        guard let worstIndex else { return "close (empty)" }
        return "\(isClose ? "close" : "NOT close"): worst at \(worstIndex), actual \(actual) vs "
            + "expected \(expected); max abs error \(maxAbsoluteError), "
            + "max rel error \(maxRelativeError)"
    }
}

extension Tensor {
    /// Compares with `expected` elementwise, NumPy style: `|self − expected| ≤ atol + rtol ·
    /// |expected|`. A NaN on either side is never close. Shapes must match.
    public func closeness(to expected: Tensor, rtol: Scalar = 1e-5, atol: Scalar = 1e-8)
        -> Closeness<Scalar>
    {
        Misuse.checkSameShape("isClose", shape, expected.shape)
        var worst = 0, worstExcess = -Scalar.infinity, maxAbsolute: Scalar = 0, maxRelative: Scalar = 0
        var allClose = true
        withUnsafeBufferPointer { a in
            expected.withUnsafeBufferPointer { b in
                for i in a.indices {
                    let difference = Swift.abs(a[i] - b[i])
                    let tolerance = atol + rtol * Swift.abs(b[i])
                    // NaN differences (and infinities of opposite sign) fail and rank worst.
                    let excess = difference.isNaN ? Scalar.infinity : difference - tolerance
                    if !(difference <= tolerance) && !(a[i] == b[i]) { allClose = false }
                    if excess > worstExcess || (excess.isNaN && !worstExcess.isNaN) {
                        (worst, worstExcess) = (i, excess)
                    }
                    if !(difference <= maxAbsolute) { maxAbsolute = difference }
                    let relative = difference / Swift.abs(b[i])
                    if b[i] != 0, !(relative <= maxRelative) { maxRelative = relative }
                }
            }
        }
        let index = scalarCount == 0 ? nil : Self.multiIndex(of: worst, in: shape)
        return Closeness(
            isClose: allClose, worstIndex: index,
            actual: scalarCount == 0 ? 0 : storage.base[worst],
            expected: scalarCount == 0 ? 0 : expected.storage.base[worst],
            maxAbsoluteError: maxAbsolute, maxRelativeError: maxRelative)
    }

    /// Whether `self` is elementwise close to `expected`; see ``closeness(to:rtol:atol:)`` for
    /// the worst index and errors.
    public func isClose(to expected: Tensor, rtol: Scalar = 1e-5, atol: Scalar = 1e-8) -> Bool {
        closeness(to: expected, rtol: rtol, atol: atol).isClose
    }

    /// The per-axis index of row-major `offset` in `shape`.
    static func multiIndex(of offset: Int, in shape: [Int]) -> [Int] {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = offset
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }
}
