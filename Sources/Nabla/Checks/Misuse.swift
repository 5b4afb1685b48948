/// The one place where Nabla stops on API misuse.
///
/// Every message has the form `op: what was given: what is wrong`, naming the operation and the
/// shapes involved, for example `matmul: lhs [2, 3] and rhs [4, 5]: inner dimensions 3 ≠ 4`.
/// Misuse is a programming error, so it traps (in debug and release builds alike) rather than
/// throwing; bad data and files throw typed errors instead.
@usableFromInline
enum Misuse {
    /// Stops the program with `op: message`.
    @usableFromInline @inline(never)
    static func fail(_ op: String, _ message: String) -> Never {
        fatalError("\(op): \(message)")
    }

    /// Stops unless `condition` holds; the message is built only on failure.
    @inlinable @inline(__always)
    static func check(
        _ condition: Bool, _ op: @autoclosure () -> String, _ message: @autoclosure () -> String
    ) {
        if !condition { fail(op(), message()) }
    }

    /// Checks that `shape` is a valid shape for scalars of `scalarByteCount` bytes and returns
    /// its element count: no negative dimension, and not too large (``ShapeSize``'s rule).
    @inlinable @discardableResult
    static func checkShape(_ op: String, _ shape: [Int], scalarByteCount: Int = 1) -> Int {
        for dimension in shape where dimension < 0 {
            fail(op, "shape \(shape): dimension \(dimension) is negative")
        }
        guard let count = ShapeSize.elementCount(shape, scalarByteCount: scalarByteCount) else {
            fail(
                op,
                "shape \(shape): too large: its nonzero dimensions times \(scalarByteCount)-byte "
                    + "scalars overflow a 64-bit size")
        }
        return count
    }

    /// Checks that `count` scalars fill `shape` exactly.
    @inlinable
    static func checkCount(_ op: String, shape: [Int], count: Int) {
        let expected = checkShape(op, shape)
        check(
            expected == count, op,
            "shape \(shape) holds \(expected) scalars, but \(count) were given")
    }

    /// Returns `axis` resolved against `rank` (negative axes count from the end), or stops.
    @inlinable
    static func resolveAxis(_ op: String, _ axis: Int, shape: [Int], allowingEnd: Bool = false)
        -> Int
    {
        let rank = shape.count + (allowingEnd ? 1 : 0)
        let resolved = axis < 0 ? axis + rank : axis
        check(
            resolved >= 0 && resolved < rank, op,
            "axis \(axis) is out of range for shape \(shape) (rank \(shape.count))")
        return resolved
    }

    /// Resolves a list of axes and checks that none repeats. Returns them sorted.
    @inlinable
    static func resolveAxes(_ op: String, _ axes: [Int], shape: [Int]) -> [Int] {
        let resolved = axes.map { resolveAxis(op, $0, shape: shape) }.sorted()
        for index in resolved.indices.dropFirst() where resolved[index] == resolved[index - 1] {
            fail(op, "axes \(axes) name axis \(resolved[index]) twice for shape \(shape)")
        }
        return resolved
    }

    /// Converts a size to the 32-bit integer BLAS and LAPACK take, or stops.
    @inlinable
    static func int32(_ op: String, _ name: String, _ value: Int) -> Int32 {
        guard let converted = Int32(exactly: value) else {
            fail(op, "\(name) \(value) does not fit the 32-bit integer BLAS takes")
        }
        return converted
    }
}
