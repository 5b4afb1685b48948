import CNablaKernels
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The instruction-set level a kernel runs at, chosen at run time.
///
/// Swift packages build for baseline x86-64, so Nabla's own loops in Swift run as 128-bit SSE
/// code. The kernels of the `CNablaKernels` target are compiled once per level instead, and the
/// level is picked when a kernel starts:
///
/// 1. the level bound by ``withLevel(_:_:)`` in this task, if any;
/// 2. else the environment variable `NABLA_SIMD` (`portable`, `avx2` or `avx512`), read once;
/// 3. else ``supported``, the best this CPU and its operating system run.
///
/// A kernel family without code for a level runs the next lower one it has (see
/// ``KernelFamily``). Forcing a level above ``supported`` is a misuse: it would stop the
/// program on an illegal instruction.
public enum SIMDLevel: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    /// Nabla's Swift loops, compiled for the package's target (SSE2 on x86-64).
    case portable
    /// AVX2 with FMA: 256-bit vectors.
    case avx2
    /// AVX-512 F, DQ, BW and VL: 512-bit vectors.
    case avx512

    /// The best level this CPU and its operating system support, found once with CPUID and XGETBV.
    public static let supported = SIMDLevel(rawValue: Int(nabla_simd_supported_level())) ?? .portable

    /// The CPU's features that matter to the levels, such as `"sse4.2 avx fma avx2"`.
    public static var cpuFeatures: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            nabla_simd_feature_names(buffer.baseAddress!, Int64(buffer.count))
            return String(cString: buffer.baseAddress!)
        }
    }

    /// The level kernels started now run at (before a family's own ceiling).
    ///
    /// A `NABLA_SIMD` that names no level, or one this CPU lacks, stops the program here with
    /// its message; a command line calls ``checkEnvironment()`` first to report it as an error.
    public static var current: SIMDLevel {
        if let forced { return forced }
        switch environment {
        case .success(let level): return level ?? supported
        case .failure(let error): Misuse.fail("NABLA_SIMD", error.description)
        }
    }

    /// The level `NABLA_SIMD` sets, or `nil` when it is unset or empty.
    ///
    /// - Throws: ``SIMDLevelError`` when it names no level or a level this CPU lacks.
    public static func checkEnvironment() throws(SIMDLevelError) -> SIMDLevel? {
        try environment.get()
    }

    /// Runs `body` with kernels at `level`, in this task and the tasks it starts.
    ///
    /// - Precondition: `level ≤ supported`.
    public static func withLevel<Result>(
        _ level: SIMDLevel, _ body: () throws -> Result
    ) rethrows -> Result {
        checkSupported(level, "SIMDLevel.withLevel")
        return try $forced.withValue(level, operation: body)
    }

    /// Runs `body` with kernels at `level`, in this task and the tasks it starts.
    ///
    /// - Precondition: `level ≤ supported`.
    public static func withLevel<Result>(
        _ level: SIMDLevel, isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        checkSupported(level, "SIMDLevel.withLevel")
        return try await $forced.withValue(level, operation: body)
    }

    /// The level bound by ``withLevel(_:_:)``.
    @TaskLocal static var forced: SIMDLevel?

    /// `NABLA_SIMD`, read once: a level name, checked against ``supported``.
    static let environment: Result<SIMDLevel?, SIMDLevelError> = Result {
        () throws(SIMDLevelError) -> SIMDLevel? in
        guard let text = getenv("NABLA_SIMD").map({ String(cString: $0) }), !text.isEmpty
        else { return nil }
        guard let level = SIMDLevel(name: text) else {
            throw SIMDLevelError(
                description: "NABLA_SIMD=\(text) is not a level: use portable, avx2 or avx512")
        }
        guard level <= supported else {
            throw SIMDLevelError(description: "NABLA_SIMD=\(text): " + unsupported(level))
        }
        return level
    }

    static func checkSupported(_ level: SIMDLevel, _ op: String) {
        Misuse.check(level <= supported, op, unsupported(level))
    }

    static func unsupported(_ level: SIMDLevel) -> String {
        "\(level) is not supported by this CPU (it supports up to \(supported); features: "
            + "\(cpuFeatures))"
    }

    /// The level named `name` (`portable`, `avx2` or `avx512`, any case).
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() })
        else { return nil }
        self = level
    }

    public var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    public static func < (lhs: SIMDLevel, rhs: SIMDLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A `NABLA_SIMD` setting that names no level, or a level this CPU lacks.
public struct SIMDLevelError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A group of kernels that has code for some levels, and the level it runs at.
public enum KernelFamily: String, CaseIterable, Sendable {
    /// Winograd F(4×4, 3×3): the input, output and gradient tile transforms, and their 36
    /// products per chunk (`SmallGEMM` above the portable level, OpenBLAS at it).
    case winogradTransforms = "Winograd transforms and products"
    /// Direct few-channel convolutions: the forward with bias, the filter and bias gradients.
    case fewChannelConvolution = "few-channel convolution"
    /// Depthwise convolution at stride 1 and dilation 1: forward, input and filter gradients.
    case depthwiseConvolution = "depthwise convolution"
    /// exp, tanh, sigmoid, erfc, GELU and its derivative over `Float` buffers (VectorMath.swift),
    /// and the row softmax's exponentials.
    case vectorMath = "vector math"
    /// The 2×2, column-stride-2 unpadded max pool of `Float` planes (PoolingKernels.swift).
    case maxPooling = "max pooling"
    /// Adam's update without weight decay or AMSGrad (OptimizerKernels.swift).
    case optimizerUpdate = "optimizer updates"
    /// The matrix products of ``BLAS/gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``:
    /// Nabla's packed GEMM at AVX-512 for products large enough (PackedGEMM.swift), OpenBLAS
    /// at `portable` and at `avx2`, where Nabla's code did not beat OpenBLAS's Haswell kernels.
    case matrixProducts = "matrix products"

    /// The levels this family has code for, in increasing order; `portable` is always one.
    public var levels: [SIMDLevel] {
        switch self {
        case .winogradTransforms, .fewChannelConvolution, .depthwiseConvolution, .vectorMath,
            .maxPooling, .optimizerUpdate:
            SIMDLevel.allCases
        case .matrixProducts:
            [.portable, .avx512]
        }
    }

    /// The highest level this family has code for.
    public var highestLevel: SIMDLevel { levels.last! }

    /// The level this family's kernels run at now: the highest of ``levels`` at most
    /// ``SIMDLevel/current``.
    public var level: SIMDLevel {
        let current = SIMDLevel.current
        return levels.last { $0 <= current } ?? .portable
    }

    /// ``level``, recorded in the task's ``KernelLevelLog``: a kernel calls this once when it
    /// starts, on the caller's thread (task-local values do not reach its worker threads).
    @usableFromInline
    func levelForRun() -> SIMDLevel {
        let level = self.level
        KernelLevelLog.current?.record(self, level)
        return level
    }
}

/// The levels that kernels ran at in a task, so a test can check that a forced level is the one
/// that runs.
public final class KernelLevelLog: Sendable {
    private let entries = Mutex<[(family: KernelFamily, level: SIMDLevel)]>([])

    @TaskLocal static var current: KernelLevelLog?

    func record(_ family: KernelFamily, _ level: SIMDLevel) {
        entries.withLock { $0.append((family, level)) }
    }

    /// The runs recorded, in order.
    public var runs: [(family: KernelFamily, level: SIMDLevel)] { entries.withLock { $0 } }

    /// Runs `body` and returns its result with the levels its kernels ran at.
    public static func recording<R>(_ body: () throws -> R) rethrows -> (
        result: R, runs: [(family: KernelFamily, level: SIMDLevel)]
    ) {
        let log = KernelLevelLog()
        let result = try $current.withValue(log, operation: body)
        return (result, log.runs)
    }
}
