/// Textbook reference kernels: plain loops with no blocking, vectorization tricks or BLAS.
///
/// They exist to check the fast kernels in parity tests and to measure them against in
/// benchmarks. Sizes are validated exactly as in the fast kernels.
public enum NaiveKernels {
    /// `c ← alpha · op(a) · op(b) + beta · c` by the triple loop; the same contract as
    /// ``BLAS/gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
    ///
    /// Shapes: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`, `c` is `[m, n]`, all row-major with
    /// leading dimensions `lda`, `ldb`, `ldc`. With `beta == 0`, `c` is overwritten and its old
    /// contents (even NaN) are ignored.
    @inlinable
    public static func gemm<Scalar: TensorScalar>(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Scalar = 1,
        a: UnsafeBufferPointer<Scalar>, lda: Int,
        b: UnsafeBufferPointer<Scalar>, ldb: Int,
        beta: Scalar = 0,
        c: UnsafeMutableBufferPointer<Scalar>, ldc: Int
    ) {
        Misuse.checkGemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda,
            aCount: a.count, ldb: ldb, bCount: b.count, ldc: ldc, cCount: c.count)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Scalar = 0
                for p in 0..<k {
                    let left = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let right = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += left * right
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * sum + old
            }
        }
    }

    /// Writes the transpose of the `[rows, columns]` matrix `source` into `destination`
    /// (`[columns, rows]`), both contiguous; the contract of
    /// ``BLAS/transpose(rows:columns:source:destination:)``.
    @inlinable
    public static func transpose<Scalar: TensorScalar>(
        rows: Int, columns: Int,
        source: UnsafeBufferPointer<Scalar>, destination: UnsafeMutableBufferPointer<Scalar>
    ) {
        Misuse.checkTranspose(rows: rows, columns: columns, source: source.count, destination: destination.count)
        for row in 0..<rows {
            for column in 0..<columns {
                destination[column * rows + row] = source[row * columns + column]
            }
        }
    }

    /// The direct 2-D convolution (cross-correlation) of an NCHW input, without im2col.
    ///
    /// Shapes: `input` is `[N, C, H, W]`, `filter` is `[O, C, kh, kw]` and `output` is
    /// `[N, O, oh, ow]`, all contiguous, with the sizes of `geometry`. The number of output
    /// channels `O` is `filter.count / (C·kh·kw)`. `output` is overwritten.
    @inlinable
    public static func convolution2D<Scalar: TensorScalar>(
        _ geometry: Convolution2DGeometry,
        input: UnsafeBufferPointer<Scalar>,
        filter: UnsafeBufferPointer<Scalar>,
        output: UnsafeMutableBufferPointer<Scalar>
    ) {
        let op = "convolution2D"
        let g = geometry
        let c = geometry.configuration
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        let windowSize = g.columnRows
        let outputChannels = filter.count / windowSize
        Misuse.check(
            input.count == g.inputCount, op,
            "input \(g.inputShape) needs \(g.inputCount) scalars, but its buffer has \(input.count)"
        )
        Misuse.check(
            filter.count == outputChannels * windowSize && outputChannels >= 1, op,
            "filter buffer has \(filter.count) scalars, not a positive multiple of "
                + "C·kh·kw = \(windowSize)")
        Misuse.check(
            output.count == g.batch * outputChannels * oh * ow, op,
            "output [\(g.batch), \(outputChannels), \(oh), \(ow)] needs "
                + "\(g.batch * outputChannels * oh * ow) scalars, but its buffer has "
                + "\(output.count)")

        for n in 0..<g.batch {
            for o in 0..<outputChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum: Scalar = 0
                        for channel in 0..<g.channels {
                            for i in 0..<g.kernelHeight {
                                let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
                                guard y >= 0 && y < g.height else { continue }
                                for j in 0..<g.kernelWidth {
                                    let x =
                                        ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
                                    guard x >= 0 && x < g.width else { continue }
                                    let inputIndex =
                                        ((n * g.channels + channel) * g.height + y) * g.width + x
                                    let filterIndex =
                                        ((o * g.channels + channel) * g.kernelHeight + i)
                                        * g.kernelWidth + j
                                    sum += input[inputIndex] * filter[filterIndex]
                                }
                            }
                        }
                        output[((n * outputChannels + o) * oh + oy) * ow + ox] = sum
                    }
                }
            }
        }
    }
}
