// Elementwise arithmetic with NumPy broadcasting.

extension Tensor {
    /// Returns `transform` applied to every scalar.
    @inlinable @inline(__always)
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func map(_ transform: (Scalar) -> Scalar) -> Tensor {
        withUnsafeBufferPointer { input in
            Tensor(unsafeUninitializedShape: shape) { output in
                ElementwiseKernels.map(input, into: output, transform)
            }
        }
    }

    /// Combines `lhs` and `rhs` elementwise after broadcasting them to a common shape.
    ///
    /// Shapes align from the right; each pair of dimensions must be equal or one of them 1.
    /// `op` names the operation in misuse messages.
    @inlinable @inline(__always)
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func broadcasting(
        _ op: String, _ lhs: Tensor, _ rhs: Tensor, _ combine: (Scalar, Scalar) -> Scalar
    ) -> Tensor {
        let shape = Misuse.broadcastShape(op, lhs.shape, rhs.shape)
        return lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in
                Tensor(unsafeUninitializedShape: shape) { output in
                    ElementwiseKernels.broadcast(
                        a, shape: lhs.shape, b, shape: rhs.shape, into: output, shape: shape,
                        combine)
                }
            }
        }
    }

    /// Updates `lhs` in place with `combine(lhs, rhs)`; `rhs` must broadcast to `lhs`'s shape.
    @inlinable @inline(__always)
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func update(
        _ op: String, _ lhs: inout Tensor, _ rhs: Tensor, _ combine: (Scalar, Scalar) -> Scalar
    ) {
        let shape = Misuse.broadcastShape(op, lhs.shape, rhs.shape)
        Misuse.check(
            shape == lhs.shape, op,
            "lhs \(lhs.shape) and rhs \(rhs.shape): the result \(shape) does not fit lhs in place")
        let lhsShape = lhs.shape
        rhs.withUnsafeBufferPointer { b in
            lhs.withUnsafeMutableBufferPointer { a in
                ElementwiseKernels.broadcast(
                    UnsafeBufferPointer(a), shape: lhsShape, b, shape: rhs.shape, into: a,
                    shape: lhsShape, combine)
            }
        }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcasting("add", lhs, rhs, +)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcasting("subtract", lhs, rhs, -)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcasting("multiply", lhs, rhs, *)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcasting("divide", lhs, rhs, /)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func + (lhs: Tensor, rhs: Scalar) -> Tensor { lhs.map { $0 + rhs } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func - (lhs: Tensor, rhs: Scalar) -> Tensor { lhs.map { $0 - rhs } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func * (lhs: Tensor, rhs: Scalar) -> Tensor { lhs.map { $0 * rhs } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func / (lhs: Tensor, rhs: Scalar) -> Tensor { lhs.map { $0 / rhs } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func + (lhs: Scalar, rhs: Tensor) -> Tensor { rhs.map { lhs + $0 } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func - (lhs: Scalar, rhs: Tensor) -> Tensor { rhs.map { lhs - $0 } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func * (lhs: Scalar, rhs: Tensor) -> Tensor { rhs.map { lhs * $0 } }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func / (lhs: Scalar, rhs: Tensor) -> Tensor { rhs.map { lhs / $0 } }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static prefix func - (operand: Tensor) -> Tensor { operand.map { -$0 } }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func += (lhs: inout Tensor, rhs: Tensor) { update("add", &lhs, rhs, +) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func -= (lhs: inout Tensor, rhs: Tensor) {
        update("subtract", &lhs, rhs, -)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func *= (lhs: inout Tensor, rhs: Tensor) {
        update("multiply", &lhs, rhs, *)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func /= (lhs: inout Tensor, rhs: Tensor) {
        update("divide", &lhs, rhs, /)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func += (lhs: inout Tensor, rhs: Scalar) {
        lhs.withUnsafeMutableBufferPointer { a in for i in a.indices { a[i] += rhs } }
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func -= (lhs: inout Tensor, rhs: Scalar) {
        lhs.withUnsafeMutableBufferPointer { a in for i in a.indices { a[i] -= rhs } }
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func *= (lhs: inout Tensor, rhs: Scalar) {
        lhs.withUnsafeMutableBufferPointer { a in for i in a.indices { a[i] *= rhs } }
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    @inlinable public static func /= (lhs: inout Tensor, rhs: Scalar) {
        lhs.withUnsafeMutableBufferPointer { a in for i in a.indices { a[i] /= rhs } }
    }
}

extension Tensor: Equatable {
    /// Exact equality of shapes and scalars (so NaN is never equal, as in IEEE 754).
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        return lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) }
        }
    }
}

/// `x` with `value` wherever `mask` is nonzero; `mask` broadcasts to `x`'s shape.
@inlinable
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func maskedFill<Scalar>(_ x: Tensor<Scalar>, where mask: Tensor<Scalar>, with value: Scalar)
    -> Tensor<Scalar>
{
    Misuse.checkMaskShape(mask.shape, x.shape)
    return Tensor.broadcasting("maskedFill", x, mask) { $1 != 0 ? value : $0 }
}
