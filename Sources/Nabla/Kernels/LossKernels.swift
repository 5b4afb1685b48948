import RealModule

/// Buffer-level loops of the losses.
public enum LossKernels {
    /// For `rows × classes` scalars in row-major order: each row's maximum (NaN if the row holds
    /// one) and `log Σ exp(x − maximum)` over the row.
    @inlinable
    public static func rowMaximaAndLogSums<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, rows: Int, classes: Int
    ) -> (maxima: [Scalar], logSums: [Scalar]) {
        var maxima = [Scalar](repeating: 0, count: rows)
        var logSums = [Scalar](repeating: 0, count: rows)
        for row in 0..<rows {
            let line = x.baseAddress! + row * classes
            var largest = line[0]
            for c in 1..<classes { largest = Scalar.maximumPropagatingNaN(largest, line[c]) }
            var sum: Scalar = 0
            for c in 0..<classes { sum += Scalar.exp(line[c] - largest) }
            (maxima[row], logSums[row]) = (largest, Scalar.log(sum))
        }
        return (maxima, logSums)
    }
}
