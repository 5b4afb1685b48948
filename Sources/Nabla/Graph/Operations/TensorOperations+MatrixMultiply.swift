// Matrix multiply and its backward rule: two more matrix multiplies with transpose flags, on
// the same BLAS `gemm`, never a transposed copy.

extension TensorOperations {
    /// `op(lhs) · op(rhs)`, with `op` transposing when asked, with the shapes of
    /// ``Nabla/matmul(_:_:transposeLHS:transposeRHS:)``: the last two axes are the matrix,
    /// leading batch axes broadcast, and a vector operand is a row (lhs) or column (rhs) whose
    /// axis the result loses.
    ///
    /// The gradients are matrix products too, summed over the batch axes each operand was
    /// broadcast along, so they can be differentiated again.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func matmul(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        transposeLHS: Bool = false, transposeRHS: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.matmul(lhs.value, rhs.value, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
        // Two matrices: the gradients as factors, so that the products a weight gets at every
        // step of a sequence add up as one GEMM when nothing records the backward.
        let productFactors: ProductGradientFactors<Scalar>? = lhs.shape.count != 2 || rhs.shape.count != 2 ? nil
            : { g, index -> MatrixProductFactors<Scalar>? in
                index == 0  // dop(A) = G·op(B)ᵀ; dop(B) = op(A)ᵀ·G
                    ? transposeLHS
                        ? MatrixProductFactors(rhs.value, g, transposeLHS: transposeRHS, transposeRHS: true)
                        : MatrixProductFactors(g, rhs.value, transposeLHS: false, transposeRHS: !transposeRHS)
                    : transposeRHS
                        ? MatrixProductFactors(g, lhs.value, transposeLHS: true, transposeRHS: transposeLHS)
                        : MatrixProductFactors(lhs.value, g, transposeLHS: !transposeLHS, transposeRHS: false)
            }
        return record("matmul", [lhs, rhs], value, file: file, line: line, productFactors: productFactors) { g, needs in
            let shape = Misuse.matmulShape(
                lhs.shape, rhs.shape, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
            // Vectors as a row and a column, and G with their axes back.
            let a = reshaped(lhs, to: shape.lhs), b = reshaped(rhs, to: shape.rhs)
            let gMatrices = reshaped(g, to: shape.batch + [shape.m, shape.n])
            // With C = op(A)·op(B): dop(A) = G·op(B)ᵀ and dop(B) = op(A)ᵀ·G.
            let lhsGradient = !needs[0] ? nil
                : transposeLHS
                    ? matmul(b, gMatrices, transposeLHS: transposeRHS, transposeRHS: true)
                    : matmul(gMatrices, b, transposeRHS: !transposeRHS)
            let rhsGradient: Variable<Scalar>?
            if !needs[1] {
                rhsGradient = nil
            } else if !transposeLHS && shape.rhsBatch.allSatisfy({ $0 == 1 }) {
                // A batch shared one rhs: stack the batch into rows for a single GEMM.
                let rows = shape.batch.reduce(1, *) * shape.m
                let a2 = reshaped(a, to: [rows, shape.k])
                let g2 = reshaped(gMatrices, to: [rows, shape.n])
                rhsGradient = reshaped(
                    transposeRHS ? matmul(g2, a2, transposeLHS: true) : matmul(a2, g2, transposeLHS: true),
                    to: b.shape)
            } else {
                rhsGradient = transposeRHS
                    ? matmul(gMatrices, a, transposeLHS: true, transposeRHS: transposeLHS)
                    : matmul(a, gMatrices, transposeLHS: !transposeLHS)
            }
            // Sum over the batch axes an operand was broadcast along, then undo the vector view.
            return [lhsGradient.map { reshaped(reduce($0, toShape: a.shape), to: lhs.shape) },
                    rhsGradient.map { reshaped(reduce($0, toShape: b.shape), to: rhs.shape) }]
        }
    }

    /// A linear map, `x·Wᵀ + b`, as one op: the bias joins the GEMM (as on the manual path).
    ///
    /// - Parameters:
    ///   - x: `[rows, inputs]`.
    ///   - weight: `[outputs, inputs]`.
    ///   - bias: `[outputs]`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[rows, outputs]`. The gradients are `g·W`, `gᵀ·x` and `g` summed over the rows,
    ///   in differentiable ops.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func linear(
        _ x: Variable<Scalar>, weight: Variable<Scalar>, bias: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        Misuse.check(
            x.shape.count == 2 && weight.shape.count == 2 && weight.shape[1] == x.shape[1] && bias.shape == [weight.shape[0]],
            "linear", "x \(x.shape), weight \(weight.shape) and bias \(bias.shape): expected [rows, inputs], "
                + "[outputs, inputs] and [outputs]")
        let value = Nabla.linear(x.value, weight: weight.value, bias: bias.value)
        // The products a weight gets at every step of a sequence add up as one GEMM.
        let productFactors: ProductGradientFactors<Scalar> = { g, index in
            switch index {
            case 0: MatrixProductFactors(g, weight.value, transposeLHS: false, transposeRHS: false)
            case 1: MatrixProductFactors(g, x.value, transposeLHS: true, transposeRHS: false)
            default: nil
            }
        }
        return record("linear", [x, weight, bias], value, file: file, line: line, productFactors: productFactors) { g, needs in
            let biasGradient = !needs[2] ? nil
                : GraphContext.isRecordingBackward ? sum(g, alongAxes: [0]) : constant(g.value.sum(alongAxes: [0]))
            return [needs[0] ? matmul(g, weight) : nil, needs[1] ? matmul(g, x, transposeLHS: true) : nil, biasGradient]
        }
    }

    /// `x` reshaped to `shape`, or `x` itself if it already has that shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func reshaped(_ x: Variable<Scalar>, to shape: [Int]) -> Variable<Scalar> {
        x.shape == shape ? x : reshape(x, to: shape)
    }
}
