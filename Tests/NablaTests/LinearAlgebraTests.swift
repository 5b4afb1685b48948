import Foundation
import Testing

@testable import Nabla

// Every factorization is checked by reconstruction with the naive Double-precision `Matrix`
// below, independent of BLAS and LAPACK.

// MARK: - Test support

extension SeededGenerator {
    /// Uniform in [-1, 1).
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-52 - 1
    }
}

/// A dense row-major matrix of `Double`s with a naive triple-loop product.
private struct Matrix {
    var rows: Int
    var columns: Int
    var values: [Double]

    init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns)
        (self.rows, self.columns, self.values) = (rows, columns, values)
    }

    init(rows: Int, columns: Int, repeating value: Double = 0) {
        self.init(rows: rows, columns: columns, values: Array(repeating: value, count: rows * columns))
    }

    /// A rank-2 tensor as is; a rank-1 tensor as a column.
    init<Scalar: TensorScalar>(_ tensor: Tensor<Scalar>) {
        precondition(tensor.rank == 1 || tensor.rank == 2)
        let columns = tensor.rank == 2 ? tensor.shape[1] : 1
        self.init(
            rows: tensor.shape[0], columns: columns, values: tensor.scalars.map { Double($0) })
    }

    static func identity(_ n: Int) -> Matrix {
        var identity = Matrix(rows: n, columns: n)
        for i in 0..<n { identity[i, i] = 1 }
        return identity
    }

    static func random(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
        var generator = SeededGenerator(seed: seed)
        return Matrix(
            rows: rows, columns: columns,
            values: (0..<rows * columns).map { _ in generator.uniform() })
    }

    subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    var transposed: Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for i in 0..<rows {
            for j in 0..<columns { result[j, i] = self[i, j] }
        }
        return result
    }

    var maxAbs: Double { values.map(abs).max() ?? 0 }

    /// The tensor of this matrix, rounded to `Scalar`.
    func tensor<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        Tensor(shape: [rows, columns], scalars: values.map { Scalar($0) })
    }

    static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.columns == rhs.rows)
        var product = Matrix(rows: lhs.rows, columns: rhs.columns)
        for i in 0..<lhs.rows {
            for j in 0..<rhs.columns {
                var sum = 0.0
                for k in 0..<lhs.columns { sum += lhs[i, k] * rhs[k, j] }
                product[i, j] = sum
            }
        }
        return product
    }

    static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.columns == rhs.columns)
        return Matrix(
            rows: lhs.rows, columns: lhs.columns, values: zip(lhs.values, rhs.values).map(-))
    }
}

/// The scalar types under test, with the relative tolerance each gets.
enum Precision: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case float, double

    var tolerance: Double { self == .float ? 1e-4 : 1e-10 }
    var testDescription: String { rawValue }
}

/// Runs `body` with `Float` or `Double`.
private protocol ScalarTest {
    func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws
}

extension ScalarTest {
    func run(_ precision: Precision) throws {
        switch precision {
        case .float: try run(Float.self, tolerance: precision.tolerance)
        case .double: try run(Double.self, tolerance: precision.tolerance)
        }
    }
}

/// Symmetric positive definite: `MᵀM + n·I`.
private func spdMatrix(_ n: Int, seed: UInt64) -> Matrix {
    let m = Matrix.random(n, n, seed: seed)
    var spd = m.transposed * m
    for i in 0..<n { spd[i, i] += Double(n) }
    // Mirror the lower triangle so rounding cannot break symmetry.
    for i in 0..<n {
        for j in 0..<i { spd[j, i] = spd[i, j] }
    }
    return spd
}

/// Checks that `residual` is small next to `scale`: `max |residual| ≤ tolerance · scale`.
private func expectSmall(
    _ residual: Matrix, scale: Double, tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let error = residual.maxAbs
    #expect(
        error <= tolerance * max(scale, 1e-300), "\(what): error \(error), scale \(scale)",
        sourceLocation: sourceLocation)
}

/// Checks `|actual - expected| ≤ tolerance · |expected|`.
private func expectClose(
    _ actual: Double, _ expected: Double, tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        abs(actual - expected) <= tolerance * abs(expected), "\(what): \(actual) vs \(expected)",
        sourceLocation: sourceLocation)
}

private let squareSizes = [1, 2, 3, 5, 8, 16, 33, 64]
private let rectangularShapes = [
    (1, 1), (1, 4), (4, 1), (3, 2), (2, 3), (6, 6), (10, 4), (4, 10), (33, 17), (17, 33),
]

// MARK: - Reconstruction

@Suite("LinearAlgebra reconstruction")
struct LinearAlgebraReconstructionTests {
    @Test("solve: a · x = b", arguments: Precision.allCases, squareSizes)
    func solve(precision: Precision, n: Int) throws {
        struct Check: ScalarTest {
            let n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let a: Tensor<Scalar> = Matrix.random(n, n, seed: UInt64(n)).tensor()
                let before = a.scalars
                for columns in [nil, 1, 3] {
                    let bMatrix = Matrix.random(n, columns ?? 1, seed: UInt64(100 + n))
                    let b: Tensor<Scalar> =
                        columns == nil
                        ? Tensor(bMatrix.values.map { Scalar($0) }) : bMatrix.tensor()
                    let x = try LinearAlgebra.solve(a, b)
                    #expect(x.shape == b.shape)
                    let (aD, xD) = (Matrix(a), Matrix(x))
                    expectSmall(
                        aD * xD - Matrix(b), scale: Double(n) * aD.maxAbs * xD.maxAbs,
                        tolerance: tolerance, "a · x - b, \(b.shape)")
                }
                #expect(a.scalars == before, "solve modified a")
            }
        }
        try Check(n: n).run(precision)
    }

    @Test("inverse: a · a⁻¹ = I", arguments: Precision.allCases, squareSizes)
    func inverse(precision: Precision, n: Int) throws {
        struct Check: ScalarTest {
            let n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let a: Tensor<Scalar> = Matrix.random(n, n, seed: UInt64(200 + n)).tensor()
                let before = a.scalars
                let inverse = try LinearAlgebra.inverse(a)
                #expect(inverse.shape == [n, n])
                let (aD, inverseD) = (Matrix(a), Matrix(inverse))
                let scale = Double(n) * aD.maxAbs * inverseD.maxAbs
                expectSmall(
                    aD * inverseD - .identity(n), scale: scale, tolerance: tolerance, "a · a⁻¹ - I")
                expectSmall(
                    inverseD * aD - .identity(n), scale: scale, tolerance: tolerance, "a⁻¹ · a - I")
                #expect(a.scalars == before, "inverse modified a")
            }
        }
        try Check(n: n).run(precision)
    }

    @Test("cholesky: L · Lᵀ = a, L lower-triangular", arguments: Precision.allCases, squareSizes)
    func cholesky(precision: Precision, n: Int) throws {
        struct Check: ScalarTest {
            let n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let a: Tensor<Scalar> = spdMatrix(n, seed: UInt64(300 + n)).tensor()
                let before = a.scalars
                let l = try LinearAlgebra.cholesky(a)
                #expect(l.shape == [n, n])
                let lD = Matrix(l)
                for i in 0..<n {
                    #expect(lD[i, i] > 0, "L[\(i), \(i)] = \(lD[i, i]) is not positive")
                    for j in (i + 1)..<max(i + 1, n) {
                        #expect(lD[i, j] == 0, "L[\(i), \(j)] = \(lD[i, j]) is above the diagonal")
                    }
                }
                let aD = Matrix(a)
                expectSmall(
                    lD * lD.transposed - aD, scale: Double(n) * aD.maxAbs, tolerance: tolerance,
                    "L · Lᵀ - a")
                #expect(a.scalars == before, "cholesky modified a")
            }
        }
        try Check(n: n).run(precision)
    }

    @Test("qr: q · r = a, qᵀ · q = I, r upper-triangular", arguments: Precision.allCases, rectangularShapes)
    func qr(precision: Precision, shape: (Int, Int)) throws {
        struct Check: ScalarTest {
            let m: Int, n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let k = min(m, n)
                let a: Tensor<Scalar> = Matrix.random(m, n, seed: UInt64(400 + 64 * m + n)).tensor()
                let before = a.scalars
                let (q, r) = try LinearAlgebra.qr(a)
                #expect(q.shape == [m, k])
                #expect(r.shape == [k, n])
                let (aD, qD, rD) = (Matrix(a), Matrix(q), Matrix(r))
                for i in 0..<k {
                    for j in 0..<min(i, n) {
                        #expect(rD[i, j] == 0, "r[\(i), \(j)] = \(rD[i, j]) is below the diagonal")
                    }
                }
                expectSmall(
                    qD * rD - aD, scale: Double(max(m, n)) * aD.maxAbs, tolerance: tolerance,
                    "q · r - a")
                expectSmall(
                    qD.transposed * qD - .identity(k), scale: Double(m), tolerance: tolerance,
                    "qᵀ · q - I")
                #expect(a.scalars == before, "qr modified a")
            }
        }
        try Check(m: shape.0, n: shape.1).run(precision)
    }

    @Test("svd: u · diag(s) · vt = a, s descending", arguments: Precision.allCases, rectangularShapes)
    func svd(precision: Precision, shape: (Int, Int)) throws {
        struct Check: ScalarTest {
            let m: Int, n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let k = min(m, n)
                let a: Tensor<Scalar> = Matrix.random(m, n, seed: UInt64(500 + 64 * m + n)).tensor()
                let before = a.scalars
                let (u, s, vt) = try LinearAlgebra.svd(a)
                #expect(u.shape == [m, k])
                #expect(s.shape == [k])
                #expect(vt.shape == [k, n])
                let (aD, uD, vtD) = (Matrix(a), Matrix(u), Matrix(vt))
                let sD = s.scalars.map { Double($0) }
                #expect(sD.allSatisfy { $0 >= 0 }, "negative singular value in \(sD)")
                #expect(zip(sD, sD.dropFirst()).allSatisfy { $0 >= $1 }, "\(sD) is not descending")
                var diagonal = Matrix(rows: k, columns: k)
                for i in 0..<k { diagonal[i, i] = sD[i] }
                let scale = Double(max(m, n)) * aD.maxAbs
                expectSmall(
                    uD * diagonal * vtD - aD, scale: scale, tolerance: tolerance,
                    "u · diag(s) · vt - a")
                expectSmall(
                    uD.transposed * uD - .identity(k), scale: Double(m), tolerance: tolerance,
                    "uᵀ · u - I")
                expectSmall(
                    vtD * vtD.transposed - .identity(k), scale: Double(n), tolerance: tolerance,
                    "vt · vtᵀ - I")
                #expect(a.scalars == before, "svd modified a")
            }
        }
        try Check(m: shape.0, n: shape.1).run(precision)
    }

    @Test("symmetricEigen: a · v = λ · v, λ ascending", arguments: Precision.allCases, squareSizes)
    func symmetricEigen(precision: Precision, n: Int) throws {
        struct Check: ScalarTest {
            let n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let m = Matrix.random(n, n, seed: UInt64(600 + n))
                var symmetric = m + m.transposed
                for i in 0..<n {
                    for j in 0..<i { symmetric[j, i] = symmetric[i, j] }
                }
                let a: Tensor<Scalar> = symmetric.tensor()
                let before = a.scalars
                let (values, vectors) = try LinearAlgebra.symmetricEigen(a)
                #expect(values.shape == [n])
                #expect(vectors.shape == [n, n])
                let (aD, vD) = (Matrix(a), Matrix(vectors))
                let lambda = values.scalars.map { Double($0) }
                #expect(zip(lambda, lambda.dropFirst()).allSatisfy { $0 <= $1 }, "\(lambda) is not ascending")
                var diagonal = Matrix(rows: n, columns: n)
                for i in 0..<n { diagonal[i, i] = lambda[i] }
                expectSmall(
                    aD * vD - vD * diagonal, scale: Double(n) * aD.maxAbs, tolerance: tolerance,
                    "a · v - v · diag(λ)")
                expectSmall(
                    vD.transposed * vD - .identity(n), scale: Double(n), tolerance: tolerance,
                    "vᵀ · v - I")
                #expect(a.scalars == before, "symmetricEigen modified a")
            }
        }
        try Check(n: n).run(precision)
    }
}

extension Matrix {
    fileprivate static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        Matrix(rows: lhs.rows, columns: lhs.columns, values: zip(lhs.values, rhs.values).map(+))
    }
}

// MARK: - Determinants

@Suite("LinearAlgebra determinants")
struct LinearAlgebraDeterminantTests {
    @Test("determinant of a hand-computed 3 × 3 matrix", arguments: Precision.allCases)
    func handComputed(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                // 2·(0·5 + 1·4) + 3·(2·5 + 1·1) + 1·(2·4 - 0·1) = 8 + 33 + 8 = 49.
                let a = Tensor<Scalar>(shape: [3, 3], scalars: [2, -3, 1, 2, 0, -1, 1, 4, 5])
                expectClose(
                    Double(try LinearAlgebra.determinant(a)), 49, tolerance: tolerance, "det")
                let (sign, logAbs) = try LinearAlgebra.logDeterminant(a)
                #expect(sign == 1)
                expectClose(Double(logAbs), log(49), tolerance: tolerance, "log |det|")
                // Swapping two rows flips the sign.
                let swapped = Tensor<Scalar>(shape: [3, 3], scalars: [2, 0, -1, 2, -3, 1, 1, 4, 5])
                expectClose(
                    Double(try LinearAlgebra.determinant(swapped)), -49, tolerance: tolerance,
                    "det after a row swap")
                #expect(try LinearAlgebra.logDeterminant(swapped).sign == -1)
            }
        }
        try Check().run(precision)
    }

    @Test(
        "determinant of triangular matrices is the product of the diagonal",
        arguments: Precision.allCases, [1, 2, 3, 5, 8, 16])
    func triangular(precision: Precision, n: Int) throws {
        struct Check: ScalarTest {
            let n: Int
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                var upper = Matrix.random(n, n, seed: UInt64(700 + n))
                var generator = SeededGenerator(seed: UInt64(800 + n))
                for i in 0..<n {
                    // |diagonal| in [0.5, 1.5), random sign.
                    let magnitude = 1 + 0.5 * generator.uniform()
                    upper[i, i] = generator.next() % 2 == 0 ? magnitude : -magnitude
                    for j in 0..<i { upper[i, j] = 0 }
                }
                let upperT: Tensor<Scalar> = upper.tensor()
                let diagonal = (0..<n).map { Double(upperT[$0, $0]) }
                let product = diagonal.reduce(1, *)
                let lower: Tensor<Scalar> = upper.transposed.tensor()
                for (name, matrix) in [("upper", upperT), ("lower", lower)] {
                    let det = Double(try LinearAlgebra.determinant(matrix))
                    expectClose(det, product, tolerance: tolerance, "\(name) det")
                    let (sign, logAbs) = try LinearAlgebra.logDeterminant(matrix)
                    #expect(Double(sign) == (product < 0 ? -1 : 1), "\(name) sign")
                    #expect(
                        abs(Double(logAbs) - log(abs(product))) <= tolerance * Double(n),
                        "\(name) log |det| \(logAbs) vs \(log(abs(product)))")
                }
                if n >= 2 {
                    // Swapping the first and last rows flips the sign.
                    var swapped = upper
                    for j in 0..<n { swapped.values.swapAt(j, (n - 1) * n + j) }
                    let det = Double(try LinearAlgebra.determinant(swapped.tensor(Scalar.self)))
                    expectClose(det, -product, tolerance: tolerance, "swapped det")
                }
            }
        }
        try Check(n: n).run(precision)
    }

    @Test("det(a · b) = det(a) · det(b)", arguments: [1, 2, 3, 5, 8, 16])
    func productRule(n: Int) throws {
        let a = Matrix.random(n, n, seed: UInt64(900 + n))
        let b = Matrix.random(n, n, seed: UInt64(1000 + n))
        let detA = try LinearAlgebra.determinant(a.tensor(Double.self))
        let detB = try LinearAlgebra.determinant(b.tensor(Double.self))
        let detAB = try LinearAlgebra.determinant((a * b).tensor(Double.self))
        expectClose(detAB, detA * detB, tolerance: 1e-10 * Double(n), "det(a · b)")
        let (sign, logAbs) = try LinearAlgebra.logDeterminant(a.tensor(Double.self))
        expectClose(sign * exp(logAbs), detA, tolerance: 1e-10, "sign · exp(logAbs)")
    }

    @Test("a singular matrix has determinant 0 and log-determinant (0, -∞)", arguments: Precision.allCases)
    func singular(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                for a in singularMatrices(Scalar.self) {
                    #expect(try LinearAlgebra.determinant(a) == 0, "det of \(a.shape)")
                    let (sign, logAbs) = try LinearAlgebra.logDeterminant(a)
                    #expect(sign == 0)
                    #expect(logAbs == -.infinity)
                }
            }
        }
        try Check().run(precision)
    }
}

/// Exactly singular matrices: LU meets an exact zero pivot. Paired with that pivot's index.
private func singularMatricesWithPivots<Scalar: TensorScalar>(
    _: Scalar.Type
) -> [(Tensor<Scalar>, pivot: Int)] {
    // Row 1 is twice row 0.
    var result = [(Tensor<Scalar>(shape: [3, 3], scalars: [1, 2, 3, 2, 4, 6, 1, 1, 1]), pivot: 2)]
    result.append((Tensor(shape: [1, 1], scalars: [0]), pivot: 0))
    for n in [4, 9, 40] {
        // A zero column stays zero through elimination.
        var matrix = Matrix.random(n, n, seed: UInt64(1100 + n))
        for i in 0..<n { matrix[i, n / 2] = 0 }
        result.append((matrix.tensor(), pivot: n / 2))
    }
    return result
}

private func singularMatrices<Scalar: TensorScalar>(_: Scalar.Type) -> [Tensor<Scalar>] {
    singularMatricesWithPivots(Scalar.self).map(\.0)
}

// MARK: - Errors and edge cases

@Suite("LinearAlgebra errors")
struct LinearAlgebraErrorTests {
    @Test("solve and inverse throw on an exactly singular matrix", arguments: Precision.allCases)
    func singular(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                for (a, pivot) in singularMatricesWithPivots(Scalar.self) {
                    let n = a.shape[0]
                    let b = Tensor<Scalar>(repeating: 1, shape: [n])
                    #expect(throws: LinearAlgebraError.singular(operation: "solve", pivot: pivot)) {
                        try LinearAlgebra.solve(a, b)
                    }
                    #expect(throws: LinearAlgebraError.singular(operation: "inverse", pivot: pivot)) {
                        try LinearAlgebra.inverse(a)
                    }
                }
            }
        }
        try Check().run(precision)
    }

    @Test("cholesky throws on a matrix that is not positive definite", arguments: Precision.allCases)
    func notPositiveDefinite(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                // Leading minors 1 and 1 - 4 = -3.
                let indefinite = Tensor<Scalar>(shape: [2, 2], scalars: [1, 2, 2, 1])
                #expect(
                    throws: LinearAlgebraError.notPositiveDefinite(operation: "cholesky", minor: 2)
                ) { try LinearAlgebra.cholesky(indefinite) }
                let negative: Tensor<Scalar> = Matrix(rows: 5, columns: 5, values: spdMatrix(5, seed: 1).values.map { -$0 }).tensor()
                #expect(
                    throws: LinearAlgebraError.notPositiveDefinite(operation: "cholesky", minor: 1)
                ) { try LinearAlgebra.cholesky(negative) }
                // Positive semidefinite but singular.
                let semidefinite = Tensor<Scalar>(shape: [2, 2], scalars: [1, 1, 1, 1])
                #expect(throws: LinearAlgebraError.self) { try LinearAlgebra.cholesky(semidefinite) }
                let zero = Tensor<Scalar>(repeating: 0, shape: [3, 3])
                #expect(throws: LinearAlgebraError.self) { try LinearAlgebra.cholesky(zero) }
            }
        }
        try Check().run(precision)
    }

    @Test("NaN or infinite input throws nonFinite", arguments: Precision.allCases)
    func nonFinite(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                for bad in [Scalar.nan, .infinity, -.infinity] {
                    var a: Tensor<Scalar> = spdMatrix(3, seed: 7).tensor()
                    a[1, 0] = bad
                    a[0, 1] = bad
                    let good: Tensor<Scalar> = spdMatrix(3, seed: 7).tensor()
                    let b = Tensor<Scalar>(repeating: 1, shape: [3])
                    var badB = b
                    badB[2] = bad
                    func expectNonFinite(_ op: String, _ body: () throws -> Void) {
                        #expect(throws: LinearAlgebraError.nonFinite(operation: op), "\(op) \(bad)") {
                            try body()
                        }
                    }
                    expectNonFinite("solve") { _ = try LinearAlgebra.solve(a, b) }
                    expectNonFinite("solve") { _ = try LinearAlgebra.solve(good, badB) }
                    expectNonFinite("inverse") { _ = try LinearAlgebra.inverse(a) }
                    expectNonFinite("cholesky") { _ = try LinearAlgebra.cholesky(a) }
                    expectNonFinite("qr") { _ = try LinearAlgebra.qr(a) }
                    expectNonFinite("svd") { _ = try LinearAlgebra.svd(a) }
                    expectNonFinite("symmetricEigen") { _ = try LinearAlgebra.symmetricEigen(a) }
                    expectNonFinite("determinant") { _ = try LinearAlgebra.determinant(a) }
                    expectNonFinite("logDeterminant") { _ = try LinearAlgebra.logDeterminant(a) }
                }
            }
        }
        try Check().run(precision)
    }

    @Test("solve and inverse throw when the result overflows")
    func overflow() {
        let tiny = Tensor<Float>(shape: [2, 2], scalars: [1e-30, 0, 0, 1e-30])
        #expect(throws: LinearAlgebraError.overflow(operation: "solve")) {
            try LinearAlgebra.solve(tiny, Tensor([1e30, 1]))
        }
        // The inverse's corner is -1e20 / 1e-40.
        let tinier = Tensor<Float>(shape: [2, 2], scalars: [1e-20, 1e20, 0, 1e-20])
        #expect(throws: LinearAlgebraError.overflow(operation: "inverse")) {
            try LinearAlgebra.inverse(tinier)
        }
    }

    @Test("errors describe themselves")
    func descriptions() {
        let cases: [(LinearAlgebraError, String)] = [
            (.singular(operation: "solve", pivot: 2), "solve: the matrix is singular"),
            (.notPositiveDefinite(operation: "cholesky", minor: 3), "order 3 is not positive"),
            (.noConvergence(operation: "svd", info: 4), "svd: LAPACK did not converge (info 4)"),
            (.nonFinite(operation: "qr"), "qr: the input contains NaN or infinity"),
            (.overflow(operation: "inverse"), "inverse: the result overflowed"),
        ]
        for (error, fragment) in cases {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test("empty matrices", arguments: Precision.allCases)
    func empty(precision: Precision) throws {
        struct Check: ScalarTest {
            func run<Scalar: TensorScalar>(_: Scalar.Type, tolerance: Double) throws {
                let a = Tensor<Scalar>(repeating: 0, shape: [0, 0])
                #expect(try LinearAlgebra.solve(a, Tensor<Scalar>(repeating: 0, shape: [0])).shape == [0])
                #expect(try LinearAlgebra.solve(a, Tensor<Scalar>(repeating: 0, shape: [0, 2])).shape == [0, 2])
                #expect(try LinearAlgebra.inverse(a).shape == [0, 0])
                #expect(try LinearAlgebra.cholesky(a).shape == [0, 0])
                #expect(try LinearAlgebra.determinant(a) == 1)
                let (sign, logAbs) = try LinearAlgebra.logDeterminant(a)
                #expect(sign == 1 && logAbs == 0)
                let eigen = try LinearAlgebra.symmetricEigen(a)
                #expect(eigen.values.shape == [0] && eigen.vectors.shape == [0, 0])
                for (m, n) in [(3, 0), (0, 3), (0, 0)] {
                    let rectangle = Tensor<Scalar>(repeating: 0, shape: [m, n])
                    let (q, r) = try LinearAlgebra.qr(rectangle)
                    #expect(q.shape == [m, 0] && r.shape == [0, n])
                    let (u, s, vt) = try LinearAlgebra.svd(rectangle)
                    #expect(u.shape == [m, 0] && s.shape == [0] && vt.shape == [0, n])
                }
                // No right-hand sides: nothing to solve, but a is still a valid matrix.
                let b = Tensor<Scalar>(repeating: 0, shape: [2, 0])
                let identity = Tensor<Scalar>(shape: [2, 2], scalars: [1, 0, 0, 1])
                #expect(try LinearAlgebra.solve(identity, b).shape == [2, 0])
            }
        }
        try Check().run(precision)
    }

    @Test("inputs sharing storage with other tensors are not modified")
    func sharedInputsUnchanged() throws {
        let a: Tensor<Double> = spdMatrix(4, seed: 3).tensor()
        let alias = a
        let b = Tensor<Double>([1, 2, 3, 4])
        let bAlias = b
        _ = try LinearAlgebra.solve(alias, bAlias)
        _ = try LinearAlgebra.inverse(alias)
        _ = try LinearAlgebra.cholesky(alias)
        _ = try LinearAlgebra.qr(alias)
        _ = try LinearAlgebra.svd(alias)
        _ = try LinearAlgebra.symmetricEigen(alias)
        _ = try LinearAlgebra.determinant(alias)
        _ = try LinearAlgebra.logDeterminant(alias)
        #expect(a.scalars == spdMatrix(4, seed: 3).tensor(Double.self).scalars)
        #expect(alias.scalars == a.scalars)
        #expect(b.scalars == [1, 2, 3, 4] && bAlias.scalars == [1, 2, 3, 4])
    }
}

// MARK: - Misuse traps

/// Checks that an exit test's standard error names the operation and shapes.
private func expectMessage(
    _ result: ExitTest.Result?, _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let standardError = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(
        standardError.contains(message), "stderr \(standardError.debugDescription)",
        sourceLocation: sourceLocation)
}

@Suite("LinearAlgebra misuse")
struct LinearAlgebraMisuseTests {
    @Test("solve traps when b's rows differ from a's")
    func solveRowMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let a = Tensor<Double>(repeating: 1, shape: [3, 3])
            _ = try LinearAlgebra.solve(a, Tensor<Double>(repeating: 1, shape: [4]))
        }
        expectMessage(result, "solve: a [3, 3] and b [4]: b has 4 rows, a has 3")
    }

    @Test("solve traps on a non-square a")
    func solveNonSquare() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let a = Tensor<Float>(repeating: 1, shape: [2, 3])
            _ = try LinearAlgebra.solve(a, Tensor<Float>(repeating: 1, shape: [2, 1]))
        }
        expectMessage(result, "solve: a [2, 3] and b [2, 1]: a is not square")
    }

    @Test("solve traps on a b of rank 3")
    func solveRank3() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let a = Tensor<Double>(repeating: 1, shape: [2, 2])
            _ = try LinearAlgebra.solve(a, Tensor<Double>(repeating: 1, shape: [2, 1, 1]))
        }
        expectMessage(result, "solve: a [2, 2] and b [2, 1, 1]: b has rank 3, expected 1 or 2")
    }

    @Test("inverse traps on a non-square matrix")
    func inverseNonSquare() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.inverse(Tensor<Double>(repeating: 1, shape: [2, 3]))
        }
        expectMessage(result, "inverse: a [2, 3]: a is not square")
    }

    @Test("cholesky traps on a non-square matrix")
    func choleskyNonSquare() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.cholesky(Tensor<Float>(repeating: 1, shape: [4, 2]))
        }
        expectMessage(result, "cholesky: a [4, 2]: a is not square")
    }

    @Test("determinant traps on a non-square matrix")
    func determinantNonSquare() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.determinant(Tensor<Double>(repeating: 1, shape: [1, 2]))
        }
        expectMessage(result, "determinant: a [1, 2]: a is not square")
    }

    @Test("symmetricEigen traps on a non-square matrix")
    func eigenNonSquare() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.symmetricEigen(Tensor<Double>(repeating: 1, shape: [3, 2]))
        }
        expectMessage(result, "symmetricEigen: a [3, 2]: a is not square")
    }

    @Test("qr traps on a tensor that is not a matrix")
    func qrRank3() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.qr(Tensor<Double>(repeating: 1, shape: [2, 2, 2]))
        }
        expectMessage(result, "qr: a [2, 2, 2]: a has rank 3, expected a matrix (rank 2)")
    }

    @Test("svd traps on a vector")
    func svdRank1() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try LinearAlgebra.svd(Tensor<Float>([1, 2, 3]))
        }
        expectMessage(result, "svd: a [3]: a has rank 1, expected a matrix (rank 2)")
    }
}
