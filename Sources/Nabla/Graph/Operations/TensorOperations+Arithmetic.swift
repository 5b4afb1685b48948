// Broadcasting arithmetic and its backward rules. Every rule sums its gradient back to the
// operand's shape through `reduce(_:toShape:)`, the one place that undoes broadcasting.

extension TensorOperations {
    /// `lhs + rhs` with broadcasting.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func add(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("add", [lhs, rhs], lhs.value + rhs.value, file: file, line: line) { g, needs in
            [needs[0] ? reduce(g, toShape: lhs.shape) : nil,
             needs[1] ? reduce(g, toShape: rhs.shape) : nil]
        }
    }

    /// `lhs − rhs` with broadcasting.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func subtract(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("subtract", [lhs, rhs], lhs.value - rhs.value, file: file, line: line) { g, needs in
            [needs[0] ? reduce(g, toShape: lhs.shape) : nil,
             needs[1] ? reduce(negate(g), toShape: rhs.shape) : nil]
        }
    }

    /// `lhs ⊙ rhs` (elementwise) with broadcasting.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func multiply(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("multiply", [lhs, rhs], lhs.value * rhs.value, file: file, line: line) { g, needs in
            [needs[0] ? reduce(multiply(g, rhs), toShape: lhs.shape) : nil,
             needs[1] ? reduce(multiply(g, lhs), toShape: rhs.shape) : nil]
        }
    }

    /// `lhs / rhs` (elementwise) with broadcasting.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func divide(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("divide", [lhs, rhs], lhs.value / rhs.value, file: file, line: line) { g, needs in
            [needs[0] ? reduce(divide(g, rhs), toShape: lhs.shape) : nil,
             needs[1] ? reduce(negate(divide(multiply(g, lhs), square(rhs))), toShape: rhs.shape) : nil]
        }
    }

    /// `−x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func negate(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("negate", [x], -x.value, file: file, line: line) { g, _ in [negate(g)] }
    }

    /// `factor · x` for a constant `factor`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func scale(
        _ x: Variable<Scalar>, by factor: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("scale", [x], x.value * factor, file: file, line: line) { g, _ in
            [scale(g, by: factor)]
        }
    }

    /// `x / divisor` for a constant `divisor`: a true division, not a product with a rounded
    /// `1 / divisor`, so that the mean of equal values is exactly that value.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func divide(
        _ x: Variable<Scalar>, by divisor: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("divide", [x], x.value / divisor, file: file, line: line) { g, _ in
            [divide(g, by: divisor)]
        }
    }

    /// `x + c` for a constant `c`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func shift(
        _ x: Variable<Scalar>, by c: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("shift", [x], x.value + c, file: file, line: line) { g, _ in [g] }
    }

    /// `lhs ⊙ rhs`, except 0 wherever `lhs` is 0, even where `rhs` is NaN or infinite.
    ///
    /// Backward rules multiply their upstream gradient by a local derivative with this, so a
    /// branch that a selection did not take (zero upstream) never leaks a NaN into the gradient.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func guardedMultiply(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Tensor.broadcasting("guardedMultiply", lhs.value, rhs.value) { a, b in
            a == 0 ? 0 : a * b
        }
        return record("guardedMultiply", [lhs, rhs], value, file: file, line: line) { g, needs in
            let nonzero = constant(lhs.value.map { $0 == 0 ? 0 : 1 })
            return [needs[0] ? reduce(guardedMultiply(multiply(g, nonzero), rhs), toShape: lhs.shape) : nil,
                    needs[1] ? reduce(multiply(g, lhs), toShape: rhs.shape) : nil]
        }
    }

    /// `condition ? lhs : rhs` elementwise, with broadcasting. `condition` is a constant mask
    /// (nonzero selects `lhs`). The gradient of each side is exactly zero where the other side
    /// was chosen, whatever the upstream gradient holds there.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func select(
        _ condition: Tensor<Scalar>, _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let shape = Misuse.broadcastShape(
            "select", Misuse.broadcastShape("select", condition.shape, lhs.shape), rhs.shape)
        // A single scalar (relu's 0, a fill value) is read in place rather than broadcast.
        func expanded(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.scalarCount == 1 ? x : x.broadcasted(to: shape) }
        let keep = condition.broadcasted(to: shape)
        let (left, right) = (expanded(lhs.value), expanded(rhs.value))
        let value = Tensor<Scalar>(unsafeUninitializedShape: shape) { output in
            keep.withUnsafeBufferPointer { k in
                left.withUnsafeBufferPointer { a in
                    right.withUnsafeBufferPointer { b in
                        // One plain loop per case, so each vectorizes.
                        switch (a.count == output.count, b.count == output.count) {
                        case (true, true): for i in output.indices { output[i] = k[i] != 0 ? a[i] : b[i] }
                        case (true, false): for i in output.indices { output[i] = k[i] != 0 ? a[i] : b[0] }
                        case (false, true): for i in output.indices { output[i] = k[i] != 0 ? a[0] : b[i] }
                        case (false, false): for i in output.indices { output[i] = k[i] != 0 ? a[0] : b[0] }
                        }
                    }
                }
            }
        }
        return record("select", [lhs, rhs], value, file: file, line: line) { g, needs in
            let zero = constant(.zeros(shape: []))
            return [needs[0] ? reduce(select(keep, g, zero), toShape: lhs.shape) : nil,
                    needs[1] ? reduce(select(keep, zero, g), toShape: rhs.shape) : nil]
        }
    }
}

extension TensorOperations {
    /// `x` with `value` wherever `mask` is nonzero. `mask` is a constant that broadcasts to `x`'s
    /// shape, for example a causal mask of −∞ above the diagonal.
    ///
    /// The gradient is exactly zero where the mask holds, whatever the upstream gradient holds
    /// there, so no NaN leaks in from the filled positions.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func maskedFill(
        _ x: Variable<Scalar>, where mask: Tensor<Scalar>, with value: Scalar,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        Misuse.checkMaskShape(mask.shape, x.shape)
        return select(mask, constant(Tensor(value)), x, file: file, line: line)
    }
}

extension Variable {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func + (lhs: Variable, rhs: Variable) -> Variable { TensorOperations.add(lhs, rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func - (lhs: Variable, rhs: Variable) -> Variable { TensorOperations.subtract(lhs, rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func * (lhs: Variable, rhs: Variable) -> Variable { TensorOperations.multiply(lhs, rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func / (lhs: Variable, rhs: Variable) -> Variable { TensorOperations.divide(lhs, rhs) }
    public static prefix func - (x: Variable) -> Variable { TensorOperations.negate(x) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func * (lhs: Scalar, rhs: Variable) -> Variable { TensorOperations.scale(rhs, by: lhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func * (lhs: Variable, rhs: Scalar) -> Variable { TensorOperations.scale(lhs, by: rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func / (lhs: Variable, rhs: Scalar) -> Variable { TensorOperations.divide(lhs, by: rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func + (lhs: Variable, rhs: Scalar) -> Variable { TensorOperations.shift(lhs, by: rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func - (lhs: Variable, rhs: Scalar) -> Variable { TensorOperations.shift(lhs, by: -rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func + (lhs: Scalar, rhs: Variable) -> Variable { TensorOperations.shift(rhs, by: lhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func - (lhs: Scalar, rhs: Variable) -> Variable {
        TensorOperations.shift(TensorOperations.negate(rhs), by: lhs)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func / (lhs: Scalar, rhs: Variable) -> Variable {
        TensorOperations.scale(TensorOperations.reciprocal(rhs), by: lhs)
    }

    // A Tensor beside a Variable is a constant.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func + (lhs: Variable, rhs: Tensor<Scalar>) -> Variable { lhs + .constant(rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func - (lhs: Variable, rhs: Tensor<Scalar>) -> Variable { lhs - .constant(rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func * (lhs: Variable, rhs: Tensor<Scalar>) -> Variable { lhs * .constant(rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func / (lhs: Variable, rhs: Tensor<Scalar>) -> Variable { lhs / .constant(rhs) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func + (lhs: Tensor<Scalar>, rhs: Variable) -> Variable { .constant(lhs) + rhs }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func - (lhs: Tensor<Scalar>, rhs: Variable) -> Variable { .constant(lhs) - rhs }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func * (lhs: Tensor<Scalar>, rhs: Variable) -> Variable { .constant(lhs) * rhs }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func / (lhs: Tensor<Scalar>, rhs: Variable) -> Variable { .constant(lhs) / rhs }

    /// A constant variable holding `value` (as ``TensorOperations/constant(_:)``).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func constant(_ value: Tensor<Scalar>) -> Variable { TensorOperations.constant(value) }
}
