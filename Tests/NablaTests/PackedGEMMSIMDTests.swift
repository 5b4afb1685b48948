import Testing

@testable import Nabla

// Nabla's packed GEMM (PackedGEMM.swift) at every level that has it, against the naive product
// in Double: all four transpose cases, shapes with row, vector, panel and KC/NC block remainders,
// leading dimensions wider than the matrices (their padding holds NaN, which must never be
// read), alpha ≠ 1 and beta ∈ {0 over a NaN-filled C, 1, −0.5}, Float and Double. NaN and ±∞ in
// A and B reach exactly the elements they reach in the reference; every run, and every split
// over threads, gives the same bits; `BLAS.gemm` runs the kernel at AVX-512 and OpenBLAS below,
// as the level log says. Levels the CPU lacks are printed as skipped.
//
// The error bound, with ε the scalar's epsilon and C⁰ the C before the call:
//     |C − ref|ᵢⱼ ≤ (2k + 4)·ε·(|α|·(|A|·|B|)ᵢⱼ + |β·C⁰ᵢⱼ|)
// k roundings of the FMA chain and of the naive Double sum, one per KC block added to C, and
// those of α·sum, β·C⁰ and their sum.

@Suite("Packed GEMM at every SIMD level")
struct PackedGEMMSIMDTests {
    /// The runnable levels at which matrix products run Nabla's own kernel.
    static let levels: [SIMDLevel] = {
        let levels = runnableSIMDLevels.filter { KernelFamily.matrixProducts.levels.contains($0) }
        if levels.isEmpty {
            print("Packed GEMM skipped: this CPU supports up to \(SIMDLevel.supported), it needs avx512")
        }
        return levels
    }()

    enum Transpose: String, CaseIterable, Sendable {
        case none, a, b, both
        var a: Bool { self == .a || self == .both }
        var b: Bool { self == .b || self == .both }
    }

    /// `op(A)` `[m, k]` times `op(B)` `[k, n]`, every stored row `pad` scalars longer than the
    /// matrix.
    struct Case: CustomStringConvertible, Sendable {
        let m: Int, n: Int, k: Int, pad: Int
        let alpha: Double
        init(_ m: Int, _ n: Int, _ k: Int, pad: Int = 0, alpha: Double = 1) {
            (self.m, self.n, self.k, self.pad, self.alpha) = (m, n, k, pad, alpha)
        }
        var description: String { "\(m)×\(n)×\(k) pad \(pad) α \(alpha)" }
    }

    // Float: 16 lanes, panels of 6 rows × 64 columns, KC 384, NC 512. Double: 8 lanes, 6 × 32,
    // KC 256, NC 384. Both pack A 48 rows at a time.
    static let cases: [Case] = [
        .init(1, 1, 1),
        .init(3, 7, 17, pad: 3),  // C narrower than a vector
        .init(6, 64, 1),  // one whole tile of Float, two panels of Double
        .init(7, 33, 31, pad: 1, alpha: -2),  // one row past a panel, one column past 2 vectors
        .init(17, 65, 3, alpha: 0.5),  // one column past a Float panel
        .init(13, 100, 65, pad: 5),
        .init(2, 600, 3, pad: 2),  // past NC for both
        .init(5, 20, 400, alpha: 1.5),  // past KC for both
        .init(9, 17, 257, pad: 1),  // one step past Double's KC
        .init(3, 33, 769),  // two Float KC blocks and one step
        .init(65, 31, 33, pad: 4, alpha: -0.75),
        // More rows than read B in place (96): an untransposed B is packed, whole panels too.
        .init(101, 130, 40, pad: 2, alpha: 1.5),
        // A is packed 48 rows (8 panels) at a time: one whole panel past a group, over two
        // Float KC blocks.
        .init(54, 70, 390, pad: 1),
    ]

    static let betas: [Double] = [0, 1, -0.5]

    /// One product's operands, stored with their transposes and leading dimensions; every
    /// scalar of the padding is NaN (A, B) or 7 (C).
    struct Problem<S: TensorScalar> {
        let t: Case, transpose: Transpose
        let lda: Int, ldb: Int, ldc: Int
        var a: [S], b: [S], c: [S]
        let alpha: S, beta: S

        init(_ t: Case, _ transpose: Transpose, beta: Double, seed: UInt64) {
            self.t = t
            self.transpose = transpose
            var generator = SeededGenerator(seed: seed)
            let (aRows, aColumns) = transpose.a ? (t.k, t.m) : (t.m, t.k)
            let (bRows, bColumns) = transpose.b ? (t.n, t.k) : (t.k, t.n)
            (lda, ldb, ldc) = (aColumns + t.pad, bColumns + t.pad, t.n + t.pad)
            func matrix(_ rows: Int, _ columns: Int, _ ld: Int, padding: S, fill: S?) -> [S] {
                (0..<rows * ld).map { index in
                    guard index % ld < columns else { return padding }
                    return fill ?? S(Double.random(in: -1..<1, using: &generator))
                }
            }
            a = matrix(aRows, aColumns, lda, padding: .nan, fill: nil)
            b = matrix(bRows, bColumns, ldb, padding: .nan, fill: nil)
            c = matrix(t.m, t.n, ldc, padding: 7, fill: beta == 0 ? .nan : nil)
            alpha = S(t.alpha)
            self.beta = S(beta)
        }

        /// op(A)(i, p) and op(B)(p, j) set to `value`.
        mutating func setA(_ i: Int, _ p: Int, _ value: S) {
            a[transpose.a ? p * lda + i : i * lda + p] = value
        }
        mutating func setB(_ p: Int, _ j: Int, _ value: S) {
            b[transpose.b ? j * ldb + p : p * ldb + j] = value
        }

        /// C after the packed kernel, split over `parts` parts.
        func packed(parts: Int) -> [S] {
            var c = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        PackedGEMM.multiply(
                            transposeA: transpose.a, transposeB: transpose.b, m: t.m, n: t.n, k: t.k,
                            alpha: alpha, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                            beta: beta, c: c.baseAddress!, ldc: ldc, parts: parts)
                    }
                }
            }
            return c
        }

        /// C after `BLAS.gemm`.
        func blas() -> [S] {
            var c = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(
                            transposeA: transpose.a, transposeB: transpose.b, m: t.m, n: t.n, k: t.k,
                            alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                    }
                }
            }
            return c
        }

        /// The naive product in Double, and (|A|·|B|) for the bound.
        func reference() -> (c: [Double], magnitudes: [Double]) {
            let (a, b) = (a.map(Double.init), b.map(Double.init))
            var c = c.map(Double.init)
            var magnitudes = [Double](repeating: 0, count: c.count)
            let (aAbs, bAbs) = (a.map(\.magnitude), b.map(\.magnitude))
            func product(_ a: [Double], _ b: [Double], _ alpha: Double, _ beta: Double, _ c: inout [Double]) {
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        c.withUnsafeMutableBufferPointer { c in
                            NaiveKernels.gemm(
                                transposeA: transpose.a, transposeB: transpose.b, m: t.m, n: t.n,
                                k: t.k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                                c: c, ldc: ldc)
                        }
                    }
                }
            }
            product(a, b, Double(alpha), Double(beta), &c)
            product(aAbs, bAbs, 1, 0, &magnitudes)
            return (c, magnitudes)
        }

        /// The elements of `result` that break the bound, the reference's NaN and ±∞, or the
        /// untouched padding of C, as messages (empty when none do).
        func failures(_ result: [S]) -> [String] {
            let (expected, magnitudes) = reference()
            let epsilon = Double(S.ulpOfOne)
            var failures: [String] = []
            for i in 0..<t.m {
                for j in 0..<ldc {
                    let index = i * ldc + j
                    let (value, want) = (Double(result[index]), expected[index])
                    let ok: Bool
                    if j >= t.n {
                        ok = value == 7
                    } else if want.isNaN {
                        ok = value.isNaN
                    } else if want.isInfinite {
                        ok = value == want
                    } else {
                        let old = beta == 0 ? 0 : Double(beta) * Double(c[index])
                        let bound =
                            Double(2 * t.k + 4) * epsilon
                            * (Double(alpha).magnitude * magnitudes[index] + old.magnitude)
                        ok = (value - want).magnitude <= bound
                    }
                    if !ok, failures.count < 3 { failures.append("C[\(i), \(j)] = \(value), want \(want)") }
                }
            }
            return failures
        }
    }

    @Test("Matches the naive product within the bound", arguments: levels, Transpose.allCases)
    func matchesReference(level: SIMDLevel, transpose: Transpose) {
        for (index, t) in Self.cases.enumerated() {
            for beta in Self.betas {
                check(Problem<Float>(t, transpose, beta: beta, seed: UInt64(index)), parts: 1)
                check(Problem<Double>(t, transpose, beta: beta, seed: UInt64(index)), parts: 1)
            }
        }
    }

    func check<S: TensorScalar>(_ problem: Problem<S>, parts: Int) {
        let failures = problem.failures(problem.packed(parts: parts))
        #expect(
            failures.isEmpty,
            "\(S.self), \(problem.t), transpose \(problem.transpose), β \(problem.beta): \(failures)")
    }

    @Test("NaN and ±∞ in A and B reach exactly the elements they reach in the naive product", arguments: levels)
    func nonFinite(level: SIMDLevel) {
        for (index, t) in Self.cases.enumerated() where t.m >= 2 && t.k >= 2 {
            for transpose in Transpose.allCases {
                for beta in [0.0, 1] {
                    check(Self.poisoned(Problem<Float>(t, transpose, beta: beta, seed: UInt64(index))), parts: 1)
                    check(Self.poisoned(Problem<Double>(t, transpose, beta: beta, seed: UInt64(index))), parts: 1)
                }
            }
        }
    }

    /// NaN in a row of A, +∞ and −∞ in B, and a 0 of A meeting the +∞ (0·∞ is NaN: no step of
    /// the sum may be skipped for a zero).
    static func poisoned<S>(_ problem: Problem<S>) -> Problem<S> {
        var p = problem
        let t = p.t
        p.setA(t.m / 2, t.k / 3, .nan)
        p.setB(t.k - 1, t.n / 2, .infinity)
        p.setB(0, t.n - 1, -.infinity)
        p.setA(t.m - 1, t.k - 1, 0)
        return p
    }

    @Test("Same bits on every run and split over 1, 2 or 3 parts", arguments: levels)
    func sameBits(level: SIMDLevel) {
        // Taller than wide splits rows, wider than tall splits columns.
        for t in [Case(50, 200, 70, pad: 1, alpha: 0.3), Case(200, 50, 300)] {
            for transpose in Transpose.allCases {
                let problem = Problem<Float>(t, transpose, beta: -0.5, seed: 9)
                let first = problem.packed(parts: 1)
                for parts in [1, 2, 3] {
                    let again = problem.packed(parts: parts)
                    #expect(Self.same(first, again), "\(t), transpose \(transpose), \(parts) parts")
                }
            }
        }
    }

    static func same<S: TensorScalar>(_ x: [S], _ y: [S]) -> Bool {
        x.count == y.count
            && zip(x, y).allSatisfy { ($0.isNaN && $1.isNaN) || ($0 == $1 && $0.sign == $1.sign) }
    }

    @Test("BLAS.gemm runs the packed kernel at AVX-512 and OpenBLAS below, as the log says",
        arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func dispatch(level: SIMDLevel) {
        let large = Problem<Float>(Case(64, 64, 64), .b, beta: 0, seed: 1)
        let small = Problem<Float>(Case(8, 8, 8), .none, beta: 0, seed: 2)
        let narrow = Problem<Float>(Case(64, 10, 256), .none, beta: 0, seed: 3)
        let ((results, multiplyAdds), runs) = KernelLevelLog.recording {
            MultiplyAddCounter.counting {
                SIMDLevel.withLevel(level) { [large.blas(), small.blas(), narrow.blas()] }
            }
        }
        let own: SIMDLevel = level == .avx512 ? .avx512 : .portable
        #expect(KernelFamily.matrixProducts.levels == [.portable, .avx512])
        #expect(SIMDLevel.withLevel(level) { KernelFamily.matrixProducts.level } == own)
        #expect(runs.map(\.family) == [.matrixProducts, .matrixProducts, .matrixProducts])
        #expect(runs.map(\.level) == [own, .portable, .portable])
        #expect(multiplyAdds == 64 * 64 * 64 + 8 * 8 * 8 + 64 * 10 * 256)
        for (problem, result) in zip([large, small, narrow], results) {
            #expect(problem.failures(result).isEmpty, "\(level), \(problem.t)")
        }
    }

    @Test("BLAS.gemm gives the same bits on 1 and 2 threads", arguments: levels)
    func threads(level: SIMDLevel) {
        // 2²⁴ multiply-adds: at least two parts of ``PackedGEMM/multiplyAddsPerPart``.
        let problem = Problem<Float>(Case(128, 256, 512, pad: 2), .a, beta: 1, seed: 4)
        let (one, two, parts) = SIMDLevel.withLevel(level) {
            (
                BLASThreadsForTests.with(1) { problem.blas() },
                BLASThreadsForTests.with(2) { problem.blas() },
                BLASThreadsForTests.with(2) { PackedGEMM.parts(m: 128, n: 256, k: 512) }
            )
        }
        #expect(parts == min(2, BLAS.onlineCores))
        #expect(Self.same(one, two))
        #expect(problem.failures(two).isEmpty)
    }
}
