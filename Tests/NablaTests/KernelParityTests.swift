import Testing

@testable import Nabla

// Parity of the fast kernels (BLAS, im2col convolution) with the textbook ones in NaiveKernels,
// the adjointness of im2col and col2im, and the convolution gradients.

// MARK: - Test data

extension SeededGenerator {
    /// `count` scalars uniform in `-1...1`.
    mutating func scalars<S: TensorScalar>(_ count: Int, as _: S.Type = S.self) -> [S] {
        (0..<count).map { _ in S.random(in: -1...1, using: &self) }
    }

    mutating func tensor<S: TensorScalar>(_ shape: [Int], as _: S.Type = S.self) -> Tensor<S> {
        Tensor(shape: shape, scalars: scalars(shape.reduce(1, *)))
    }
}

/// The scalar types every parity test runs for.
enum ScalarType: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case float = "Float"
    case double = "Double"

    var testDescription: String { rawValue }
}

/// The parity tolerance: relative to the largest magnitude among the expected values (or 1).
func tolerance<S: TensorScalar>(_: S.Type) -> S { S.self == Double.self ? 1e-12 : 1e-5 }

/// Checks `actual ≈ expected` elementwise to `tolerance · max(1, max |expected|)`.
func expectClose<S: TensorScalar>(
    _ actual: [S], _ expected: [S], tolerance: S, _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, comment, sourceLocation: sourceLocation)
    let scale = max(1, expected.lazy.map(\.magnitude).max() ?? 0)
    var worst: S = 0
    for (a, e) in zip(actual, expected) { worst = max(worst, (a - e).magnitude) }
    #expect(
        worst <= tolerance * scale,
        "max error \(worst) exceeds \(tolerance) × \(scale)\(comment.map { "; \($0)" } ?? "")",
        sourceLocation: sourceLocation)
}

@Suite("Kernel parity")
struct KernelParityTests {
    // MARK: - gemm

    struct GemmCase: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int
        var transposeA: Bool, transposeB: Bool
        var alpha: Double, beta: Double

        var testDescription: String {
            "\(transposeA ? "aᵀ" : "a")·\(transposeB ? "bᵀ" : "b") m \(m) n \(n) k \(k) "
                + "alpha \(alpha) beta \(beta)"
        }

        static let all: [GemmCase] = {
            let sizes = [(7, 5, 3), (33, 17, 29), (1, 6, 1), (5, 1, 8), (4, 4, 0)]
            let scalings = [(1.0, 0.0), (0.7, -1.3), (-2.0, 1.0)]
            var cases: [GemmCase] = []
            for (m, n, k) in sizes {
                for transposeA in [false, true] {
                    for transposeB in [false, true] {
                        for (alpha, beta) in scalings {
                            cases.append(
                                GemmCase(
                                    m: m, n: n, k: k, transposeA: transposeA,
                                    transposeB: transposeB,
                                    alpha: alpha, beta: beta))
                        }
                    }
                }
            }
            return cases
        }()
    }

    @Test("BLAS.gemm matches the naive triple loop", arguments: ScalarType.allCases, GemmCase.all)
    func gemmParity(scalar: ScalarType, gemmCase: GemmCase) {
        switch scalar {
        case .float: checkGemm(gemmCase, Float.self)
        case .double: checkGemm(gemmCase, Double.self)
        }
    }

    func checkGemm<S: TensorScalar>(_ t: GemmCase, _: S.Type) {
        var random = SeededGenerator(seed: 0x6E6D + UInt64(t.m * 10_000 + t.n * 100 + t.k))
        // Stored shapes, with leading dimensions larger than the minimum.
        let (aRows, aColumns) = t.transposeA ? (t.k, t.m) : (t.m, t.k)
        let (bRows, bColumns) = t.transposeB ? (t.n, t.k) : (t.k, t.n)
        let (lda, ldb, ldc) = (aColumns + 3, bColumns + 1, t.n + 2)
        let a: [S] = random.scalars(aRows * lda)
        let b: [S] = random.scalars(bRows * ldb)
        // beta == 0 must ignore C entirely, even NaN.
        let initial: [S] =
            t.beta == 0 ? Array(repeating: .nan, count: t.m * ldc) : random.scalars(t.m * ldc)
        var fast = initial
        var naive = initial
        let (alpha, beta) = (S(t.alpha), S(t.beta))
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                fast.withUnsafeMutableBufferPointer { c in
                    BLAS.gemm(
                        transposeA: t.transposeA, transposeB: t.transposeB, m: t.m, n: t.n, k: t.k,
                        alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                }
                naive.withUnsafeMutableBufferPointer { c in
                    NaiveKernels.gemm(
                        transposeA: t.transposeA, transposeB: t.transposeB, m: t.m, n: t.n, k: t.k,
                        alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                }
            }
        }
        var fastValues: [S] = []
        var naiveValues: [S] = []
        for row in 0..<t.m {
            for column in 0..<ldc {
                let index = row * ldc + column
                if column < t.n {
                    fastValues.append(fast[index])
                    naiveValues.append(naive[index])
                } else {
                    // The padding between rows is left alone by both.
                    func unchanged(_ value: S) -> Bool {
                        value == initial[index] || (value.isNaN && initial[index].isNaN)
                    }
                    #expect(unchanged(fast[index]))
                    #expect(unchanged(naive[index]))
                }
            }
        }
        #expect(!naiveValues.contains { $0.isNaN })
        expectClose(fastValues, naiveValues, tolerance: tolerance(S.self))
    }

    // MARK: - transpose

    @Test(
        "BLAS.transpose matches the naive double loop", arguments: ScalarType.allCases,
        [(1, 1), (3, 7), (17, 33), (64, 5), (0, 4)])
    func transposeParity(scalar: ScalarType, size: (Int, Int)) {
        switch scalar {
        case .float: checkTranspose(size.0, size.1, Float.self)
        case .double: checkTranspose(size.0, size.1, Double.self)
        }
    }

    func checkTranspose<S: TensorScalar>(_ rows: Int, _ columns: Int, _: S.Type) {
        var random = SeededGenerator(seed: 0x7472 + UInt64(rows * 100 + columns))
        let source: [S] = random.scalars(rows * columns)
        var fast = [S](repeating: 0, count: rows * columns)
        var naive = fast
        source.withUnsafeBufferPointer { source in
            fast.withUnsafeMutableBufferPointer {
                BLAS.transpose(rows: rows, columns: columns, source: source, destination: $0)
            }
            naive.withUnsafeMutableBufferPointer {
                NaiveKernels.transpose(
                    rows: rows, columns: columns, source: source, destination: $0)
            }
        }
        #expect(fast == naive)
    }

    // MARK: - Convolution

    struct ConvolutionCase: Sendable, CustomTestStringConvertible {
        var batch: Int, channels: Int, outputChannels: Int
        var height: Int, width: Int
        var kernelHeight: Int, kernelWidth: Int
        var configuration: Convolution2DConfiguration

        var inputShape: [Int] { [batch, channels, height, width] }
        var filterShape: [Int] { [outputChannels, channels, kernelHeight, kernelWidth] }
        var geometry: Convolution2DGeometry {
            Convolution2DGeometry(
                batch: batch, channels: channels, height: height, width: width,
                kernelHeight: kernelHeight, kernelWidth: kernelWidth, configuration: configuration)
        }
        /// A seed that differs between cases (FNV-1a over the sizes).
        var seed: UInt64 {
            let c = configuration
            let values = [
                batch, channels, outputChannels, height, width, kernelHeight, kernelWidth,
                c.strideHeight, c.strideWidth, c.paddingHeight, c.paddingWidth, c.dilationHeight,
                c.dilationWidth,
            ]
            return values.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }

        var testDescription: String {
            "input \(inputShape) filter \(filterShape) \(configuration)"
        }

        /// Strides 1 and 2, paddings 0, 1 and 2, dilations 1 and 2, and square and non-square
        /// kernels over a non-square input, plus per-dimension configurations and batch 1.
        static func grid(
            batch: Int, channels: Int, outputChannels: Int, height: Int, width: Int
        ) -> [ConvolutionCase] {
            var cases: [ConvolutionCase] = []
            for stride in [1, 2] {
                for padding in [0, 1, 2] {
                    for dilation in [1, 2] {
                        for (kernelHeight, kernelWidth) in [(3, 3), (3, 2), (1, 3)] {
                            cases.append(
                                ConvolutionCase(
                                    batch: batch, channels: channels,
                                    outputChannels: outputChannels,
                                    height: height, width: width, kernelHeight: kernelHeight,
                                    kernelWidth: kernelWidth,
                                    configuration: .init(
                                        stride: stride, padding: padding, dilation: dilation)))
                        }
                    }
                }
            }
            let mixed: [(Int, Int, Convolution2DConfiguration)] = [
                (
                    3, 2,
                    .init(
                        strideHeight: 2, strideWidth: 1, paddingHeight: 0, paddingWidth: 2,
                        dilationHeight: 1, dilationWidth: 2)
                ),
                (
                    2, 3,
                    .init(
                        strideHeight: 1, strideWidth: 3, paddingHeight: 1, paddingWidth: 0,
                        dilationHeight: 2, dilationWidth: 1)
                ),
                (1, 1, .init(stride: 1)),
                (1, 1, .init(stride: 2, padding: 1)),
                (height, width, .init()),  // the window covers the whole input
                (3, 3, .init(stride: 3, padding: 2, dilation: 3)),
            ]
            for (kernelHeight, kernelWidth, configuration) in mixed {
                for batchSize in [batch, 1] {
                    cases.append(
                        ConvolutionCase(
                            batch: batchSize, channels: channels, outputChannels: outputChannels,
                            height: height, width: width, kernelHeight: kernelHeight,
                            kernelWidth: kernelWidth, configuration: configuration))
                }
            }
            return cases
        }

        static let parity = grid(batch: 2, channels: 3, outputChannels: 4, height: 7, width: 9)
        static let small = grid(batch: 2, channels: 2, outputChannels: 3, height: 5, width: 6)
    }

    @Test(
        "conv2d through im2col matches the direct convolution",
        arguments: ScalarType.allCases, ConvolutionCase.parity)
    func convolutionParity(scalar: ScalarType, convolution: ConvolutionCase) {
        switch scalar {
        case .float: checkConvolution(convolution, Float.self)
        case .double: checkConvolution(convolution, Double.self)
        }
    }

    /// A batch large enough that conv2d works through it in several chunks, the last shorter.
    @Test("conv2d matches the direct convolution across image chunks", arguments: ScalarType.allCases)
    func convolutionAcrossChunks(scalar: ScalarType) {
        let chunked = ConvolutionCase(
            batch: 20, channels: 32, outputChannels: 4, height: 16, width: 16, kernelHeight: 3,
            kernelWidth: 3, configuration: .init(stride: 1, padding: 1, dilation: 1))
        switch scalar {
        case .float: checkConvolution(chunked, Float.self)
        case .double: checkConvolution(chunked, Double.self)
        }
    }

    func checkConvolution<S: TensorScalar>(_ t: ConvolutionCase, _: S.Type) {
        var random = SeededGenerator(seed: 0xC0DE &+ t.seed)
        let input: Tensor<S> = random.tensor(t.inputShape)
        let filter: Tensor<S> = random.tensor(t.filterShape)
        let output = conv2d(input, filter: filter, configuration: t.configuration)
        let g = t.geometry
        #expect(output.shape == [t.batch, t.outputChannels, g.outputHeight, g.outputWidth])
        var expected = [S](repeating: .nan, count: output.scalarCount)
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                expected.withUnsafeMutableBufferPointer {
                    NaiveKernels.convolution2D(g, input: input, filter: filter, output: $0)
                }
            }
        }
        expectClose(output.scalars, expected, tolerance: tolerance(S.self))
    }

    @Test(
        "im2col has the documented layout and col2im is its adjoint",
        arguments: ConvolutionCase.parity)
    func im2colAdjoint(convolution t: ConvolutionCase) {
        var random = SeededGenerator(seed: 0xAD70 &+ t.seed)
        let g = t.geometry
        let x: Tensor<Double> = random.tensor(t.inputShape)
        let y: Tensor<Double> = random.tensor([g.columnRows, g.columnCount])
        let columns = im2col(
            x, kernelHeight: t.kernelHeight, kernelWidth: t.kernelWidth,
            configuration: t.configuration)
        let image = col2im(
            y, inputShape: t.inputShape, kernelHeight: t.kernelHeight, kernelWidth: t.kernelWidth,
            configuration: t.configuration)
        #expect(columns.shape == [g.columnRows, g.columnCount])
        #expect(image.shape == t.inputShape)

        // Entry by entry against the definition.
        let c = t.configuration
        var mismatches = 0
        for channel in 0..<t.channels {
            for i in 0..<t.kernelHeight {
                for j in 0..<t.kernelWidth {
                    for n in 0..<t.batch {
                        for oy in 0..<g.outputHeight {
                            for ox in 0..<g.outputWidth {
                                let row = (channel * t.kernelHeight + i) * t.kernelWidth + j
                                let column = (n * g.outputHeight + oy) * g.outputWidth + ox
                                let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
                                let x0 = ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
                                let inside = y >= 0 && y < t.height && x0 >= 0 && x0 < t.width
                                let expected = inside ? x[n, channel, y, x0] : 0
                                if columns[row, column] != expected { mismatches += 1 }
                            }
                        }
                    }
                }
            }
        }
        #expect(mismatches == 0)

        // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩.
        let left = zip(columns.scalars, y.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        let right = zip(x.scalars, image.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        let scale = zip(columns.scalars, y.scalars).reduce(1) { $0 + abs($1.0 * $1.1) }
        #expect(
            abs(left - right) <= 1e-13 * scale, "⟨im2col x, y⟩ \(left) ≠ ⟨x, col2im y⟩ \(right)")
    }

    @Test(
        "conv2d gradients match central finite differences", arguments: ConvolutionCase.small)
    func convolutionGradients(convolution t: ConvolutionCase) {
        var random = SeededGenerator(seed: 0x6AD &+ t.seed)
        let input: Tensor<Double> = random.tensor(t.inputShape)
        let filter: Tensor<Double> = random.tensor(t.filterShape)
        let g = t.geometry
        let upstream: Tensor<Double> = random.tensor(
            [t.batch, t.outputChannels, g.outputHeight, g.outputWidth])

        // f(x, w) = ⟨conv2d(x, w), upstream⟩ is bilinear, so central differences are exact up to
        // rounding for any step.
        func f(_ x: Tensor<Double>, _ w: Tensor<Double>) -> Double {
            let y = conv2d(x, filter: w, configuration: t.configuration)
            return zip(y.scalars, upstream.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        func centralDifferences(of point: Tensor<Double>, _ f: (Tensor<Double>) -> Double)
            -> [Double]
        {
            let h = 0.5
            return (0..<point.scalarCount).map { index in
                var plus = point
                var minus = point
                plus.withUnsafeMutableBufferPointer { $0[index] += h }
                minus.withUnsafeMutableBufferPointer { $0[index] -= h }
                return (f(plus) - f(minus)) / (2 * h)
            }
        }

        let inputGradient = conv2dBackwardInput(
            upstream, filter: filter, inputShape: t.inputShape, configuration: t.configuration)
        let filterGradient = conv2dBackwardFilter(
            upstream, input: input, filterShape: t.filterShape, configuration: t.configuration)
        #expect(inputGradient.shape == t.inputShape)
        #expect(filterGradient.shape == t.filterShape)
        expectClose(
            inputGradient.scalars, centralDifferences(of: input) { f($0, filter) },
            tolerance: 1e-12, "input gradient")
        expectClose(
            filterGradient.scalars, centralDifferences(of: filter) { f(input, $0) },
            tolerance: 1e-12, "filter gradient")
    }

    @Test func geometrySizes() {
        let geometry = Convolution2DGeometry(
            batch: 4, channels: 3, height: 7, width: 10, kernelHeight: 3, kernelWidth: 2,
            configuration: .init(
                strideHeight: 2, strideWidth: 3, paddingHeight: 1, paddingWidth: 2,
                dilationHeight: 2, dilationWidth: 1))
        // (7 + 2 − 4 − 1) / 2 + 1 = 3 and (10 + 4 − 1 − 1) / 3 + 1 = 5.
        #expect(geometry.outputHeight == 3)
        #expect(geometry.outputWidth == 5)
        #expect(geometry.columnRows == 18)
        #expect(geometry.columnCount == 60)
        #expect(Convolution2DConfiguration() == .init(stride: 1, padding: 0, dilation: 1))
    }

    @Test func emptyBatch() {
        let input = Tensor<Float>(shape: [0, 2, 5, 5], scalars: [])
        let filter = Tensor<Float>(repeating: 1, shape: [3, 2, 3, 3])
        #expect(conv2d(input, filter: filter).shape == [0, 3, 3, 3])
        let upstream = Tensor<Float>(shape: [0, 3, 3, 3], scalars: [])
        #expect(
            conv2dBackwardInput(upstream, filter: filter, inputShape: [0, 2, 5, 5]).shape == [
                0, 2, 5, 5,
            ])
        #expect(
            conv2dBackwardFilter(upstream, input: input, filterShape: [3, 2, 3, 3]).scalars
                == [Float](repeating: 0, count: 54))
    }

    // MARK: - Misuse

    @Test func conv2dChannelMismatchTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent])
        {
            let input = Tensor<Float>(repeating: 0, shape: [2, 3, 8, 8])
            let filter = Tensor<Float>(repeating: 0, shape: [4, 2, 3, 3])
            _ = conv2d(input, filter: filter)
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(
            message.contains(
                "conv2d: input [2, 3, 8, 8] and filter [4, 2, 3, 3]: input has 3 channels, "
                    + "filter expects 2"))
    }

    @Test func conv2dEmptyOutputTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent])
        {
            let input = Tensor<Double>(repeating: 0, shape: [1, 1, 4, 4])
            let filter = Tensor<Double>(repeating: 0, shape: [1, 1, 3, 3])
            _ = conv2d(input, filter: filter, configuration: .init(dilation: 2))
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("conv2d: input [1, 1, 4, 4] and filter [1, 1, 3, 3]"))
        #expect(message.contains("does not fit"))
    }

    @Test func geometryZeroStrideTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent])
        {
            _ = Convolution2DGeometry(
                batch: 1, channels: 1, height: 5, width: 5, kernelHeight: 3, kernelWidth: 3,
                configuration: .init(stride: 0))
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("conv2d: input [1, 1, 5, 5] and kernel [3, 3]"))
        #expect(message.contains("strides must be positive"))
    }

    @Test func backwardGradientShapeMismatchTraps() async {
        await #expect(processExitsWith: .failure) {
            let gradient = Tensor<Float>(repeating: 0, shape: [2, 4, 5, 5])
            let filter = Tensor<Float>(repeating: 0, shape: [4, 3, 3, 3])
            _ = conv2dBackwardInput(gradient, filter: filter, inputShape: [2, 3, 8, 8])
        }
    }

    @Test func im2colBufferSizeTraps() async {
        await #expect(processExitsWith: .failure) {
            let geometry = Convolution2DGeometry(
                batch: 1, channels: 1, height: 4, width: 4, kernelHeight: 2, kernelWidth: 2)
            let input = [Float](repeating: 0, count: 16)
            var columns = [Float](repeating: 0, count: 35)
            input.withUnsafeBufferPointer { input in
                columns.withUnsafeMutableBufferPointer {
                    ConvolutionKernels.im2col(geometry, input: input, columns: $0)
                }
            }
        }
    }
}
