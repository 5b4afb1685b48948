import CNablaKernels

/// Softmax over the rows of a row-major matrix in one pass per row: the maximum, `exp(x − max)`
/// and its sum, then the quotient, with no intermediate tensors; rows are split across the BLAS
/// threads when there are many. The same values as `exp(x − max) / Σ exp(x − max)` through
/// tensor ops (which is what it replaces), row by row: a row holding NaN, or whose maximum is
/// infinite (an all-masked row is all −∞), gives NaN throughout, as `x − max` does there.
/// `Float` rows run in C above the portable level (``KernelFamily/vectorMath``), with the same
/// bits: the sum adds eight lanes block by block of eight at every level.
enum SoftmaxKernels {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func softmaxRows<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, rows: Int, columns: Int
    ) {
        guard rows > 0, columns > 0 else { return }
        let level = Scalar.self == Float.self ? KernelFamily.vectorMath.levelForRun() : .portable
        ElementwiseKernels.forEachPart(of: rows, alignment: 1, parallelFrom: Swift.max(2, (1 << 16) / columns)) { part in
            if level > .portable {
                let x = cast(input + part.lowerBound * columns, Float.self)
                let y = cast(output + part.lowerBound * columns, Float.self)
                (level == .avx2 ? nabla_softmax_rows_f32_avx2 : nabla_softmax_rows_f32_avx512)(
                    x, y, Int64(part.count), Int64(columns))
                return
            }
            for row in part {
                let x = input + row * columns, y = output + row * columns
                if Scalar.self == Float.self {
                    floatRow(UnsafeRawPointer(x), UnsafeMutableRawPointer(y), columns)
                } else {
                    var largest = x[0]
                    for c in 1..<columns { largest = Scalar.maximumPropagatingNaN(largest, x[c]) }
                    var sum: Scalar = 0
                    for c in 0..<columns {
                        y[c] = Scalar.exp(x[c] - largest)
                        sum += y[c]
                    }
                    for c in 0..<columns { y[c] /= sum }
                }
            }
        }
    }

    /// One row of `Float`s, eight lanes at a time, the tail padded with −∞ (whose exponential
    /// adds 0 wherever the row's result is not NaN anyway).
    @inline(__always)
    private static func floatRow(_ x: UnsafeRawPointer, _ y: UnsafeMutableRawPointer, _ count: Int) {
        typealias Lanes = SIMD8<Float>
        let stride = MemoryLayout<Float>.stride
        func load(_ p: UnsafeRawPointer, _ start: Int) -> Lanes {
            guard start + 8 > count else { return p.loadUnaligned(fromByteOffset: start * stride, as: Lanes.self) }
            var v = Lanes(repeating: -.infinity)
            for i in start..<count { v[i - start] = p.load(fromByteOffset: i * stride, as: Float.self) }
            return v
        }
        func store(_ v: Lanes, _ start: Int) {
            guard start + 8 > count else { return y.storeBytes(of: v, toByteOffset: start * stride, as: Lanes.self) }
            for i in start..<count { y.storeBytes(of: v[i - start], toByteOffset: i * stride, as: Float.self) }
        }
        var largest = Lanes(repeating: -.infinity), hasNaN = SIMDMask<Lanes.MaskStorage>(repeating: false)
        for start in Swift.stride(from: 0, to: count, by: 8) {
            let v = load(x, start)
            largest.replace(with: v, where: v .> largest)
            hasNaN .|= v .!= v
        }
        let maximum = any(hasNaN) ? Float.nan : largest.max()
        var sums = Lanes()
        for start in Swift.stride(from: 0, to: count, by: 8) {
            let e = VectorMath.exp(load(x, start) - maximum)
            sums += e
            store(e, start)
        }
        let sum = sums.sum()
        for start in Swift.stride(from: 0, to: count, by: 8) {
            store(load(UnsafeRawPointer(y), start) / sum, start)
        }
    }
}
