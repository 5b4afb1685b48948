import BenchCatalog
import Benchmark
import CBLAS
import Nabla

/// The raw C entry point, called directly: `cblas_sgemm` or `cblas_dgemm`, row-major, no checks.
protocol RawGemm: TensorScalar {
    static func rawGemm(
        m: Int32, n: Int32, k: Int32, a: UnsafePointer<Self>, b: UnsafePointer<Self>,
        c: UnsafeMutablePointer<Self>)
}

extension Float: RawGemm {
    @inline(__always)
    static func rawGemm(
        m: Int32, n: Int32, k: Int32, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
    }
}

extension Double: RawGemm {
    @inline(__always)
    static func rawGemm(
        m: Int32, n: Int32, k: Int32, a: UnsafePointer<Double>, b: UnsafePointer<Double>,
        c: UnsafeMutablePointer<Double>
    ) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
    }
}

/// `a`, `b` and `c` for one shape, shared by all three kernels.
final class GemmState<Scalar: RawGemm>: @unchecked Sendable {
    let shape: GemmShape
    let a: AlignedBuffer<Scalar>
    let b: AlignedBuffer<Scalar>
    let c: AlignedBuffer<Scalar>
    let counter = IterationCounter()

    init(_ shape: GemmShape) {
        self.shape = shape
        a = AlignedBuffer(randomCount: shape.m * shape.k, seed: 1)
        b = AlignedBuffer(randomCount: shape.k * shape.n, seed: 2)
        c = AlignedBuffer(count: shape.m * shape.n)
    }

    func nabla() {
        BLAS.gemm(
            m: shape.m, n: shape.n, k: shape.k, a: a.readOnly, lda: shape.k, b: b.readOnly,
            ldb: shape.n, c: c.pointer, ldc: shape.n)
    }

    func raw() {
        Scalar.rawGemm(
            m: Int32(shape.m), n: Int32(shape.n), k: Int32(shape.k), a: a.pointer.baseAddress!,
            b: b.pointer.baseAddress!, c: c.pointer.baseAddress!)
    }

    func naive() {
        NaiveKernels.gemm(
            m: shape.m, n: shape.n, k: shape.k, a: a.readOnly, lda: shape.k, b: b.readOnly,
            ldb: shape.n, c: c.pointer, ldc: shape.n)
    }

    /// Runs every kernel once into `c` and checks they agree.
    func check() {
        nabla()
        let reference = AlignedBuffer<Scalar>(count: c.pointer.count)
        _ = reference.pointer.update(fromContentsOf: c.pointer)
        // At AVX-512, BLAS.gemm runs Nabla's packed GEMM, which sums in another order than
        // OpenBLAS: both are held to the naive product's tolerance.
        let tolerance = Scalar.self == Float.self ? 1e-3 : 1e-10
        raw()
        checkAgreement(
            "\(shape.label) raw vs Nabla", c.readOnly, reference.readOnly, tolerance: tolerance)
        if shape.timesNaive {
            naive()
            checkAgreement(
                "\(shape.label) naive vs Nabla", c.readOnly, reference.readOnly,
                tolerance: tolerance)
        }
    }
}

func registerGemmBenchmarks<Scalar: RawGemm>(_: Scalar.Type, _ scalar: ScalarName) {
    for shape in Catalog.gemmShapes {
        // The naive loop takes up to a second per call at n = 512: fewer, longer samples.
        let configuration: Benchmark.Configuration =
            shape.timesNaive && shape.flops > 1e8
            ? .timing(shape.kernels, maxDuration: .seconds(6), maxIterations: 15)
            : .timing(shape.kernels)
        Benchmark(shape.name(scalar), configuration: configuration) {
            (benchmark: Benchmark, state: GemmState<Scalar>) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.nabla), (.raw, state.raw)],
                trailing: shape.timesNaive ? [(.naive, state.naive)] : [])
        } setup: {
            let state = GemmState<Scalar>(shape)
            state.check()
            return state
        }
    }
}
