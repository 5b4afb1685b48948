// Resampling and padding of NCHW planes as separable linear maps: each output row mixes input
// rows, each output column input columns, `y = R · x · Cᵀ` per plane. Nearest and bilinear
// upsampling, adaptive average pooling, zero and reflection padding are all such maps; the
// adjoint `Rᵀ · g · C` is their backward, and on the tape two matrix products give every order.

/// The matrix `[output, input]` of one axis of a separable resampling.
enum ResamplingAxis {
    /// PyTorch's `nearest`: output `o` reads input `min(⌊o · scale⌋, input − 1)`, with
    /// `scale = input / output`, or `1 / scaleFactor` when the size came from a scale factor.
    static func nearest<Scalar: TensorScalar>(input: Int, output: Int, scaleFactor: Double?) -> Tensor<Scalar> {
        let scale = scaleFactor.map { 1 / $0 } ?? Double(input) / Double(output)
        return matrix(output, input) { o in [(Swift.min(Int((Double(o) * scale).rounded(.down)), input - 1), 1)] }
    }

    /// PyTorch's `bilinear` along one axis (`linear`): with `alignCorners` the end samples meet,
    /// `source = o · (input − 1)/(output − 1)`; without, `source = (o + ½) · scale − ½`, clamped at 0,
    /// `scale` as in ``nearest(input:output:scaleFactor:)``. Each output mixes the two inputs around
    /// its source.
    static func linear<Scalar: TensorScalar>(
        input: Int, output: Int, scaleFactor: Double?, alignCorners: Bool
    ) -> Tensor<Scalar> {
        let scale = scaleFactor.map { 1 / $0 } ?? Double(input) / Double(output)
        return matrix(output, input) { o in
            let source = alignCorners
                ? (output > 1 ? Double(o) * Double(input - 1) / Double(output - 1) : 0)
                : Swift.max((Double(o) + 0.5) * scale - 0.5, 0)
            let lower = Swift.min(Int(source.rounded(.down)), input - 1)
            let upper = Swift.min(lower + 1, input - 1)
            let weight = source - Double(lower)
            return [(lower, 1 - weight), (upper, weight)]
        }
    }

    /// PyTorch's adaptive average pooling: output `o` averages inputs `⌊o · input/output⌋ ..<
    /// ⌈(o + 1) · input/output⌉`.
    static func adaptiveAverage<Scalar: TensorScalar>(input: Int, output: Int) -> Tensor<Scalar> {
        matrix(output, input) { o in
            let start = o * input / output, end = ((o + 1) * input + output - 1) / output
            return (start..<end).map { ($0, 1 / Double(end - start)) }
        }
    }

    /// `before` zeros, the input, `after` zeros (negative amounts crop).
    static func zeroPad<Scalar: TensorScalar>(input: Int, before: Int, after: Int) -> Tensor<Scalar> {
        matrix(input + before + after, input) { o in
            (0..<input).contains(o - before) ? [(o - before, 1)] : []
        }
    }

    /// The input reflected about its first and last elements (which are not repeated), `before`
    /// and `after` elements on each side; both must be smaller than the input.
    static func reflectionPad<Scalar: TensorScalar>(input: Int, before: Int, after: Int) -> Tensor<Scalar> {
        matrix(input + before + after, input) { o in
            let source = o - before
            return [(source < 0 ? -source : (source >= input ? 2 * (input - 1) - source : source), 1)]
        }
    }

    /// `[rows, columns]` zeros with `entries(row)` (column, weight) pairs added in.
    private static func matrix<Scalar: TensorScalar>(
        _ rows: Int, _ columns: Int, _ entries: (Int) -> [(Int, Double)]
    ) -> Tensor<Scalar> {
        var values = [Scalar](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for (column, weight) in entries(row) { values[row * columns + column] += Scalar(weight) }
        }
        return Tensor(shape: [rows, columns], scalars: values)
    }
}

/// `R · x · Cᵀ` on every plane of `x` (`[N, C, H, W]`), for `rows` `[OH, H]` and `columns`
/// `[OW, W]`: `[N, C, OH, OW]`.
func separableResample<Scalar>(_ x: Tensor<Scalar>, rows: Tensor<Scalar>, columns: Tensor<Scalar>) -> Tensor<Scalar> {
    matmul(rows, matmul(x, columns, transposeRHS: true))
}

/// The adjoint of ``separableResample(_:rows:columns:)``: `Rᵀ · g · C` on every plane of `g`.
func separableResampleAdjoint<Scalar>(_ g: Tensor<Scalar>, rows: Tensor<Scalar>, columns: Tensor<Scalar>) -> Tensor<Scalar> {
    matmul(rows, matmul(g, columns), transposeLHS: true)
}
