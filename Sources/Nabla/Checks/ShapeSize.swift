/// Sizes of shapes that come from outside (a caller, a file), computed with overflow checks.
///
/// The rule is NumPy's: a shape is valid when no dimension is negative and the product of its
/// nonzero dimensions, times the scalar's size in bytes, fits in `Int`. Then the element count,
/// the byte count and every stride (in elements or bytes) fit too, whatever the order of the
/// axes, and a zero-size tensor such as `[0, 1 << 40, 1 << 40]` (whose strides would overflow)
/// is refused like the full one.
@usableFromInline
enum ShapeSize {
    /// The number of scalars in `shape`, or `nil` if a dimension is negative or the shape is too
    /// large for scalars of `scalarByteCount` bytes.
    @inlinable
    static func elementCount(_ shape: [Int], scalarByteCount: Int = 1) -> Int? {
        var nonzeroBytes = max(scalarByteCount, 1)
        var hasZero = false
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            if dimension == 0 {
                hasZero = true
                continue
            }
            let (product, overflow) = nonzeroBytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            nonzeroBytes = product
        }
        return hasZero ? 0 : nonzeroBytes / max(scalarByteCount, 1)
    }
}
