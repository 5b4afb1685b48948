import Testing

@testable import Nabla

/// im2col and col2im on transposed columns (`[N·oh·ow, C·kh·kw]`) and the input gradient built
/// on them, against loops written from the definition. Small integer values keep every Float
/// sum exact, so the kernels must match the definition bit for bit whatever their summation order.
@Suite struct TransposedColumnTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let geometry: Convolution2DGeometry
        let note: String
        var testDescription: String {
            let g = geometry
            return "\(note): [\(g.batch), \(g.channels), \(g.height), \(g.width)], kernel "
                + "\(g.kernelHeight)×\(g.kernelWidth), \(g.configuration)"
        }

        init(
            _ note: String, _ shape: (Int, Int, Int, Int), kernel: (Int, Int),
            _ configuration: Convolution2DConfiguration
        ) {
            self.note = note
            geometry = Convolution2DGeometry(
                batch: shape.0, channels: shape.1, height: shape.2, width: shape.3,
                kernelHeight: kernel.0, kernelWidth: kernel.1, configuration: configuration)
        }
    }

    static let cases: [Case] = [
        Case("4-wide rows, stride 2, odd sizes", (2, 3, 7, 9), kernel: (4, 4), .init(stride: 2, padding: 1)),
        Case("3-wide rows", (1, 2, 5, 5), kernel: (3, 3), .init(padding: 1)),
        Case(
            "5-wide rows, asymmetric", (2, 2, 6, 7), kernel: (3, 5),
            .init(strideHeight: 2, strideWidth: 1, paddingHeight: 1, paddingWidth: 2, dilationHeight: 1, dilationWidth: 1)),
        Case(
            "4-wide rows, dilated", (1, 2, 8, 9), kernel: (2, 4),
            .init(strideHeight: 1, strideWidth: 3, paddingHeight: 0, paddingWidth: 1, dilationHeight: 2, dilationWidth: 2)),
        Case(
            "4×4 windows, dilated rows", (2, 2, 10, 8), kernel: (4, 4),
            .init(strideHeight: 1, strideWidth: 2, paddingHeight: 1, paddingWidth: 1, dilationHeight: 2, dilationWidth: 1)),
        Case(
            "4×4 windows, dilated columns", (1, 3, 9, 11), kernel: (4, 4),
            .init(strideHeight: 2, strideWidth: 1, paddingHeight: 2, paddingWidth: 1, dilationHeight: 1, dilationWidth: 2)),
        Case("padding larger than the kernel", (2, 1, 3, 2), kernel: (1, 1), .init(stride: 2, padding: 3)),
        Case("stride leaving the last rows and columns out", (1, 5, 5, 6), kernel: (2, 2), .init(stride: 3)),
        Case("channels past one block", (2, 20, 14, 14), kernel: (4, 4), .init(stride: 2, padding: 1)),
    ]

    /// Calls `body(column, pixel)` for every window tap that falls inside the image: `column`
    /// indexes the transposed columns `[(n·oh + oy)·ow + ox][(c·kh + i)·kw + j]`, `pixel` the input
    /// `(n, c, oy·sh + i·dh − ph, ox·sw + j·dw − pw)`.
    static func forEachTap(_ g: Convolution2DGeometry, _ body: (Int, Int) -> Void) {
        let c = g.configuration
        var index = 0
        for n in 0..<g.batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for channel in 0..<g.channels {
                        for i in 0..<g.kernelHeight {
                            for j in 0..<g.kernelWidth {
                                let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
                                let x = ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
                                if (0..<g.height).contains(y) && (0..<g.width).contains(x) {
                                    body(index, ((n * g.channels + channel) * g.height + y) * g.width + x)
                                }
                                index += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// The transposed columns of `input`: each tap's pixel, or 0 in the padding.
    static func referenceColumns<S: TensorScalar>(_ g: Convolution2DGeometry, _ input: [S]) -> [S] {
        var columns = [S](repeating: 0, count: g.columnRows * g.columnCount)
        forEachTap(g) { column, pixel in columns[column] = input[pixel] }
        return columns
    }

    /// The adjoint of referenceColumns, plus `bias[c]` on channel `c`.
    static func referenceImage<S: TensorScalar>(_ g: Convolution2DGeometry, _ columns: [S], bias: [S]?) -> [S] {
        var input = [S](repeating: 0, count: g.inputCount)
        forEachTap(g) { column, pixel in input[pixel] += columns[column] }
        if let bias {
            for index in input.indices { input[index] += bias[index / (g.height * g.width) % g.channels] }
        }
        return input
    }

    /// The first index where `a` and `b` differ (or their count, if one is shorter), or nil.
    static func firstMismatch<S: TensorScalar>(_ a: [S], _ b: [S]) -> Int? {
        a.count == b.count ? a.indices.first { a[$0] != b[$0] } : min(a.count, b.count)
    }

    /// Integers in -4...4, so that sums of products stay exact in Float.
    static func integers<S: TensorScalar>(_ count: Int, seed: UInt64) -> [S] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in S(Int.random(in: -4...4, using: &generator)) }
    }

    static func im2col<S: TensorScalar>(_ g: Convolution2DGeometry, _ input: [S]) -> [S] {
        var columns = [S](repeating: .nan, count: g.columnRows * g.columnCount)
        var padded = [S](repeating: .nan, count: ConvolutionKernels.paddedImageCount(g))
        input.withUnsafeBufferPointer { input in
            columns.withUnsafeMutableBufferPointer { columns in
                padded.withUnsafeMutableBufferPointer { padded in
                    ConvolutionKernels.im2col(g, input: input, transposedColumns: columns, padded: padded)
                }
            }
        }
        return columns
    }

    static func col2im<S: TensorScalar>(_ g: Convolution2DGeometry, _ columns: [S], bias: [S]?) -> [S] {
        var input = [S](repeating: .nan, count: g.inputCount)
        var padded = [S](repeating: .nan, count: ConvolutionKernels.paddedImageCount(g))
        columns.withUnsafeBufferPointer { columns in
            input.withUnsafeMutableBufferPointer { input in
                padded.withUnsafeMutableBufferPointer { padded in
                    guard let bias else {
                        return ConvolutionKernels.col2im(g, transposedColumns: columns, input: input, padded: padded)
                    }
                    bias.withUnsafeBufferPointer {
                        ConvolutionKernels.col2im(g, transposedColumns: columns, input: input, padded: padded, bias: $0)
                    }
                }
            }
        }
        return input
    }

    @Test(arguments: cases)
    func im2colMatchesTheDefinition(_ test: Case) {
        let g = test.geometry
        let input: [Float] = Self.integers(g.inputCount, seed: 1)
        #expect(Self.firstMismatch(Self.im2col(g, input), Self.referenceColumns(g, input)) == nil)
        let doubles: [Double] = Self.integers(g.inputCount, seed: 2)
        #expect(Self.firstMismatch(Self.im2col(g, doubles), Self.referenceColumns(g, doubles)) == nil)
    }

    @Test(arguments: cases)
    func col2imMatchesTheDefinition(_ test: Case) {
        let g = test.geometry
        let columns: [Float] = Self.integers(g.columnRows * g.columnCount, seed: 3)
        #expect(Self.firstMismatch(Self.col2im(g, columns, bias: nil), Self.referenceImage(g, columns, bias: nil)) == nil)
        let bias: [Float] = Self.integers(g.channels, seed: 4)
        #expect(Self.firstMismatch(Self.col2im(g, columns, bias: bias), Self.referenceImage(g, columns, bias: bias)) == nil)
        let doubles: [Double] = Self.integers(g.columnRows * g.columnCount, seed: 5)
        #expect(Self.firstMismatch(Self.col2im(g, doubles, bias: nil), Self.referenceImage(g, doubles, bias: nil)) == nil)
    }

    /// NaN and ±∞ in a column reach exactly the input elements they are added to; one in the
    /// padding is dropped.
    @Test func col2imPropagatesNonFiniteValues() {
        let g = Self.cases[0].geometry
        let rows = g.columnRows
        var columns = [Float](repeating: 1, count: rows * g.columnCount)
        columns[17] = .nan  // window (0, 0), channel 1, tap (0, 1): the top padding
        columns[rows * 5 + 5] = .nan  // window (1, 1), channel 0, tap (1, 1)
        columns[rows * 6 + 21] = .infinity  // window (1, 2), channel 1, tap (1, 1)
        columns[rows * 9 + 10] = -.infinity  // window (2, 1), channel 0, tap (2, 2)
        let actual = Self.col2im(g, columns, bias: nil)
        let expected = Self.referenceImage(g, columns, bias: nil)
        #expect(actual.map(\.isNaN) == expected.map(\.isNaN))
        #expect(zip(actual, expected).allSatisfy { $0.isNaN || $0 == $1 })
        #expect(actual.contains { $0.isNaN } && actual.contains { $0 == .infinity } && actual.contains { $0 == -.infinity })
    }

    /// `filterᵀ · gradient`, col2im'd: the input gradient from the definition, in integers.
    static func referenceInputGradient(
        _ g: Convolution2DGeometry, outputChannels: Int, gradient: [Float], filter: [Float], bias: [Float]?
    ) -> [Float] {
        let positions = g.outputHeight * g.outputWidth
        var columns = [Float](repeating: 0, count: g.columnRows * g.columnCount)
        for n in 0..<g.batch {
            for p in 0..<positions {
                for r in 0..<g.columnRows {
                    var sum: Float = 0
                    for o in 0..<outputChannels {
                        sum += filter[o * g.columnRows + r] * gradient[(n * outputChannels + o) * positions + p]
                    }
                    columns[(n * positions + p) * g.columnRows + r] = sum
                }
            }
        }
        return referenceImage(g, columns, bias: bias)
    }

    struct GradientCase: Sendable, CustomTestStringConvertible {
        let batch: Int
        let channels: Int
        let outputChannels: Int
        let size: Int
        var testDescription: String {
            "batch \(batch), \(channels) ← \(outputChannels) channels, \(size)×\(size), 4×4 stride 2 padding 1"
        }
    }

    /// Batches of one image, and of more than one chunk with a remainder (6 images per product
    /// for 7×7 windows), on 1 and 2 threads, through conv2dBackwardInput and the bias it adds
    /// for ConvTranspose2D.
    @Test(arguments: [
        GradientCase(batch: 1, channels: 3, outputChannels: 5, size: 14),
        GradientCase(batch: 10, channels: 8, outputChannels: 32, size: 14),  // 490 < 512 positions: im2col
        GradientCase(batch: 7, channels: 2, outputChannels: 3, size: 9),
        GradientCase(batch: 5, channels: 4, outputChannels: 8, size: 2),
    ])
    func inputGradientMatchesTheDefinitionOnEveryThreadCount(_ test: GradientCase) {
        let g = Convolution2DGeometry(
            batch: test.batch, channels: test.channels, height: test.size, width: test.size,
            kernelHeight: 4, kernelWidth: 4, configuration: .init(stride: 2, padding: 1))
        #expect(ConvolutionAlgorithm.select(.inputGradient, geometry: g, outputChannels: test.outputChannels) == .im2col)
        let gradientShape = [g.batch, test.outputChannels, g.outputHeight, g.outputWidth]
        let gradient: [Float] = Self.integers(gradientShape.reduce(1, *), seed: 6)
        let filter: [Float] = Self.integers(test.outputChannels * g.columnRows, seed: 7)
        let bias: [Float] = Self.integers(g.channels, seed: 8)
        let expected = Self.referenceInputGradient(
            g, outputChannels: test.outputChannels, gradient: gradient, filter: filter, bias: nil)
        let expectedWithBias = Self.referenceInputGradient(
            g, outputChannels: test.outputChannels, gradient: gradient, filter: filter, bias: bias)
        for threads in [1, 2] {
            BLASThreadsForTests.with(threads) {
                let gradient = Tensor(shape: gradientShape, scalars: gradient)
                let filter = Tensor(shape: [test.outputChannels, g.channels, 4, 4], scalars: filter)
                let input = conv2dBackwardInput(
                    gradient, filter: filter, inputShape: g.inputShape, configuration: g.configuration)
                #expect(Self.firstMismatch(input.scalars, expected) == nil, "\(threads) threads")
                let withBias = conv2dBackwardInputAddingBias(
                    gradient, filter: filter, bias: Tensor(shape: [g.channels], scalars: bias),
                    inputShape: g.inputShape, configuration: g.configuration)
                #expect(Self.firstMismatch(withBias.scalars, expectedWithBias) == nil, "\(threads) threads, bias")
            }
        }
    }

    /// The filter gradient and the convolution, whose im2col runs on transposed columns too, in
    /// chunks of images (5 for 7×7 windows in the filter gradient, whose threads split the
    /// channels), on 1 and 2 threads.
    @Test(arguments: [
        GradientCase(batch: 1, channels: 3, outputChannels: 5, size: 14),
        GradientCase(batch: 10, channels: 8, outputChannels: 32, size: 14),  // 490 < 512 positions: im2col
        GradientCase(batch: 7, channels: 2, outputChannels: 3, size: 9),
        GradientCase(batch: 5, channels: 4, outputChannels: 8, size: 2),
    ])
    func filterGradientAndForwardMatchTheDefinitionOnEveryThreadCount(_ test: GradientCase) {
        let g = Convolution2DGeometry(
            batch: test.batch, channels: test.channels, height: test.size, width: test.size,
            kernelHeight: 4, kernelWidth: 4, configuration: .init(stride: 2, padding: 1))
        let o = test.outputChannels
        #expect(ConvolutionAlgorithm.select(.filterGradient, geometry: g, outputChannels: o) == .im2col)
        #expect(ConvolutionAlgorithm.select(.forward, geometry: g, outputChannels: o) == .im2col)
        let positions = g.outputHeight * g.outputWidth
        let input: [Float] = Self.integers(g.inputCount, seed: 11)
        let gradient: [Float] = Self.integers(g.batch * o * positions, seed: 12)
        let filter: [Float] = Self.integers(o * g.columnRows, seed: 13)
        let columns = Self.referenceColumns(g, input)
        var expectedFilter = [Float](repeating: 0, count: o * g.columnRows)
        var expectedOutput = [Float](repeating: 0, count: g.batch * o * positions)
        for n in 0..<g.batch {
            for p in 0..<positions {
                for k in 0..<o {
                    for r in 0..<g.columnRows {
                        let tap = columns[(n * positions + p) * g.columnRows + r]
                        expectedFilter[k * g.columnRows + r] += gradient[(n * o + k) * positions + p] * tap
                        expectedOutput[(n * o + k) * positions + p] += filter[k * g.columnRows + r] * tap
                    }
                }
            }
        }
        let filterShape = [o, g.channels, 4, 4]
        for threads in [1, 2] {
            BLASThreadsForTests.with(threads) {
                let x = Tensor(shape: g.inputShape, scalars: input)
                let dy = Tensor(shape: [g.batch, o, g.outputHeight, g.outputWidth], scalars: gradient)
                let dw = conv2dBackwardFilter(dy, input: x, filterShape: filterShape, configuration: g.configuration)
                #expect(Self.firstMismatch(dw.scalars, expectedFilter) == nil, "\(threads) threads")
                let y = conv2d(x, filter: Tensor(shape: filterShape, scalars: filter), configuration: g.configuration)
                #expect(Self.firstMismatch(y.scalars, expectedOutput) == nil, "\(threads) threads")
            }
        }
    }

    /// Random Double values: the filter gradient has the same bits on 1 and 2 threads (the
    /// chunks of images do not depend on the threads).
    @Test func filterGradientIsTheSameOnEveryThreadCount() {
        let configuration = Convolution2DConfiguration(stride: 2, padding: 1)
        let input: Tensor<Double> = randomTensor([13, 8, 14, 14], seed: 14)
        let gradient: Tensor<Double> = randomTensor([13, 32, 7, 7], seed: 15)
        let results = [1, 2].map { threads in
            BLASThreadsForTests.with(threads) {
                conv2dBackwardFilter(gradient, input: input, filterShape: [32, 8, 4, 4], configuration: configuration)
            }
        }
        #expect(Self.firstMismatch(results[0].scalars, results[1].scalars) == nil)
    }

    /// Random Double values: the same bits on 1 and 2 threads (each image is summed alone).
    @Test func inputGradientIsTheSameOnEveryThreadCount() {
        let g = Convolution2DGeometry(
            batch: 13, channels: 8, height: 14, width: 14, kernelHeight: 4, kernelWidth: 4,
            configuration: .init(stride: 2, padding: 1))
        let gradient: Tensor<Double> = randomTensor([13, 32, 7, 7], seed: 9)
        let filter: Tensor<Double> = randomTensor([32, 8, 4, 4], seed: 10)
        let results = [1, 2].map { threads in
            BLASThreadsForTests.with(threads) {
                conv2dBackwardInput(gradient, filter: filter, inputShape: g.inputShape, configuration: g.configuration)
            }
        }
        #expect(Self.firstMismatch(results[0].scalars, results[1].scalars) == nil)
    }
}
