import CBLAS
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// The validated BLAS kernels: the only code in Nabla that calls BLAS.
///
/// Matrices are row-major. Every size and leading dimension is checked in Swift before the call,
/// because OpenBLAS answers bad arguments only with a line on stdout and a stale result.
public enum BLAS {
    /// `c ← alpha · op(a) · op(b) + beta · c`, where `op(x)` is `x` or its transpose.
    ///
    /// Shapes: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`, `c` is `[m, n]`. Stored, `a` is `[m, k]`
    /// or, with `transposeA`, `[k, m]`, with rows `lda` scalars apart; likewise `b` and `c`.
    /// With `beta == 0`, `c` is overwritten and its old contents (even NaN) are ignored.
    ///
    /// At the AVX-512 level (see ``KernelFamily/matrixProducts``), products of at least 2¹⁴
    /// multiply-adds with `n ≥ 16` and `alpha ≠ 0` run on Nabla's own packed GEMM, on up to
    /// `threadCount` threads; the others, and every product at lower levels, on OpenBLAS.
    public static func gemm<Scalar: TensorScalar>(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Scalar = 1,
        a: UnsafeBufferPointer<Scalar>, lda: Int,
        b: UnsafeBufferPointer<Scalar>, ldb: Int,
        beta: Scalar = 0,
        c: UnsafeMutableBufferPointer<Scalar>, ldc: Int
    ) {
        gemm(
            matrixProductsLevel: KernelFamily.matrixProducts.level, transposeA: transposeA,
            transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc)
    }

    /// ``gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` with the products'
    /// level given: for products run on worker threads, which do not see the task's level (a
    /// level bound by ``SIMDLevel/withLevel(_:_:)``). The caller reads
    /// `KernelFamily.matrixProducts.level` on its own thread and passes it to its workers.
    @usableFromInline
    static func gemm<Scalar: TensorScalar>(
        matrixProductsLevel level: SIMDLevel,
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Scalar = 1,
        a: UnsafeBufferPointer<Scalar>, lda: Int,
        b: UnsafeBufferPointer<Scalar>, ldb: Int,
        beta: Scalar = 0,
        c: UnsafeMutableBufferPointer<Scalar>, ldc: Int
    ) {
        let op = "gemm"
        Misuse.checkGemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda,
            aCount: a.count, ldb: ldb, bCount: b.count, ldc: ldc, cCount: c.count)
        guard m > 0, n > 0 else { return }
        MultiplyAddCounter.current?.add(m * n * k)
        if k == 0 {  // c ← beta · c, done here so that beta == 0 overwrites even NaN
            for row in 0..<m {
                for column in 0..<n {
                    let index = row * ldc + column
                    c[index] = beta == 0 ? 0 : beta * c[index]
                }
            }
            return
        }
        // The level that runs, recorded as levelForRun() does (only on a task's thread): OpenBLAS
        // counts as portable.
        let own = PackedGEMM.runs(level: level, m: m, n: n, k: k, alpha: alpha)
        KernelLevelLog.current?.record(.matrixProducts, own ? level : .portable)
        if own {
            PackedGEMM.multiply(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: beta,
                c: c.baseAddress!, ldc: ldc)
            return
        }
        Scalar.cblasGemm(
            transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Misuse.int32(op, "m", m), Misuse.int32(op, "n", n), Misuse.int32(op, "k", k),
            alpha, a.baseAddress!, Misuse.int32(op, "lda", lda),
            b.baseAddress!, Misuse.int32(op, "ldb", ldb),
            beta, c.baseAddress!, Misuse.int32(op, "ldc", ldc))
    }

    /// `y ← alpha · op(a) · x + beta · y`, with `a` stored `[m, n]` (rows `lda` apart).
    ///
    /// `x` has `n` elements (`m` with `transposeA`) and `y` has `m` (`n` with `transposeA`).
    public static func gemv<Scalar: TensorScalar>(
        transposeA: Bool = false, m: Int, n: Int, alpha: Scalar = 1,
        a: UnsafeBufferPointer<Scalar>, lda: Int,
        x: UnsafeBufferPointer<Scalar>,
        beta: Scalar = 0,
        y: UnsafeMutableBufferPointer<Scalar>
    ) {
        let op = "gemv"
        Misuse.check(m >= 0 && n >= 0, op, "sizes m \(m), n \(n) must not be negative")
        Misuse.checkMatrix(op, "a", rows: m, columns: n, leading: lda, count: a.count)
        let (xCount, yCount) = transposeA ? (m, n) : (n, m)
        Misuse.check(x.count >= xCount, op, "x has \(x.count) elements, needs \(xCount)")
        Misuse.check(y.count >= yCount, op, "y has \(y.count) elements, needs \(yCount)")
        guard yCount > 0 else { return }
        if xCount == 0 {  // y ← beta · y; BLAS would return without scaling y
            for index in 0..<yCount { y[index] = beta == 0 ? 0 : beta * y[index] }
            return
        }
        Scalar.cblasGemv(
            transposeA ? CblasTrans : CblasNoTrans, Misuse.int32(op, "m", m),
            Misuse.int32(op, "n", n), alpha, a.baseAddress!, Misuse.int32(op, "lda", lda),
            x.baseAddress!, 1, beta, y.baseAddress!, 1)
    }

    /// `y ← alpha · x + y` over the first `x.count` elements.
    public static func axpy<Scalar: TensorScalar>(
        alpha: Scalar, x: UnsafeBufferPointer<Scalar>, y: UnsafeMutableBufferPointer<Scalar>
    ) {
        Misuse.check(
            x.count == y.count, "axpy", "x has \(x.count) elements and y \(y.count): counts differ")
        guard x.count > 0 else { return }
        Scalar.cblasAxpy(
            Misuse.int32("axpy", "n", x.count), alpha, x.baseAddress!, 1, y.baseAddress!, 1)
    }

    /// The dot product `⟨x, y⟩`.
    public static func dot<Scalar: TensorScalar>(
        _ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>
    ) -> Scalar {
        Misuse.check(
            x.count == y.count, "dot", "x has \(x.count) elements and y \(y.count): counts differ")
        guard x.count > 0 else { return 0 }
        return Scalar.cblasDot(
            Misuse.int32("dot", "n", x.count), x.baseAddress!, 1, y.baseAddress!, 1)
    }

    /// Writes the transpose of the `[rows, columns]` matrix `source` into `destination`
    /// (`[columns, rows]`), both contiguous.
    public static func transpose<Scalar: TensorScalar>(
        rows: Int, columns: Int,
        source: UnsafeBufferPointer<Scalar>, destination: UnsafeMutableBufferPointer<Scalar>
    ) {
        let op = "transpose"
        Misuse.checkTranspose(rows: rows, columns: columns, source: source.count, destination: destination.count)
        guard rows > 0, columns > 0 else { return }
        Scalar.cblasOmatcopy(
            CblasTrans, Misuse.int32(op, "rows", rows), Misuse.int32(op, "columns", columns), 1,
            source.baseAddress!, Misuse.int32(op, "lda", columns),
            destination.baseAddress!, Misuse.int32(op, "ldb", rows))
    }
}

extension BLAS {
    /// The largest GEMM, in multiply-adds `m·n·k`, that OpenBLAS 0.3 runs on the calling thread
    /// alone: Nabla's own parallel loops give each worker GEMMs no larger, so that they never
    /// wake OpenBLAS's threads too and oversubscribe the cores.
    public static let singleThreadedGemmLimit = 1 << 18

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The cores online. Nabla's own parallel kernels take at most this many parts, whatever
    /// ``threadCount`` says: OpenBLAS accepts more threads than cores.
    public static let onlineCores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Sets the number of threads OpenBLAS uses, for the whole process.
    public static func setThreadCount(_ count: Int) {
        Misuse.check(count >= 1, "setThreadCount", "thread count \(count) must be at least 1")
        openblas_set_num_threads(Misuse.int32("setThreadCount", "count", count))
    }

    /// OpenBLAS's build configuration, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64`.
    public static var configuration: String {
        openblas_get_config().map { String(cString: $0) } ?? "unknown"
    }

    /// The CPU kernel OpenBLAS chose at run time, e.g. `Zen` or `Haswell`.
    public static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }
}

/// Counts the multiply-adds of the GEMMs that run on a task, so tests can check that work was
/// skipped (a first layer's input gradient) and profiles can count FLOPs.
public final class MultiplyAddCounter: Sendable {
    private let count = Atomic<Int>(0)

    @TaskLocal static var current: MultiplyAddCounter?

    /// The multiply-adds counted so far.
    public var multiplyAdds: Int { count.load(ordering: .relaxed) }

    func add(_ value: Int) { count.add(value, ordering: .relaxed) }

    /// Runs `body` and returns its result with the multiply-adds of the GEMMs it ran.
    public static func counting<R>(_ body: () throws -> R) rethrows -> (result: R, multiplyAdds: Int) {
        let counter = MultiplyAddCounter()
        let result = try $current.withValue(counter, operation: body)
        return (result, counter.multiplyAdds)
    }
}
