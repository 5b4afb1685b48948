import Testing

@testable import Nabla

// Winograd convolution (WinogradKernels) against the direct convolution in NaiveKernels and a
// direct gradients written here: forward, input and filter gradient, every variant (3×3 and 2×2
// filters), paddings 0–2,
// sizes that are not multiples of the tile, empty batches, and how NaN spreads.

@Suite("Winograd convolution")
struct WinogradTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var batch: Int, channels: Int, outputChannels: Int
        var height: Int, width: Int
        var paddingHeight: Int, paddingWidth: Int
        var kernel = 3

        var configuration: Convolution2DConfiguration {
            .init(
                strideHeight: 1, strideWidth: 1, paddingHeight: paddingHeight,
                paddingWidth: paddingWidth, dilationHeight: 1, dilationWidth: 1)
        }
        var geometry: Convolution2DGeometry {
            Convolution2DGeometry(
                batch: batch, channels: channels, height: height, width: width,
                kernelHeight: kernel, kernelWidth: kernel, configuration: configuration)
        }
        var inputShape: [Int] { [batch, channels, height, width] }
        var filterShape: [Int] { [outputChannels, channels, kernel, kernel] }
        /// The variants for this filter size.
        var variants: [WinogradKernels.Variant] { WinogradKernels.Variant.allCases.filter { $0.kernel == kernel } }
        var outputShape: [Int] {
            [batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
        }
        var seed: UInt64 {
            [batch, channels, outputChannels, height, width, paddingHeight, paddingWidth, kernel]
                .reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }
        var testDescription: String {
            "input \(inputShape) filter \(filterShape) padding \(paddingHeight)×\(paddingWidth)"
        }

        init(
            _ batch: Int, _ channels: Int, _ outputChannels: Int, _ height: Int, _ width: Int,
            padding: Int, paddingWidth: Int? = nil, kernel: Int = 3
        ) {
            self.kernel = kernel
            self.batch = batch
            self.channels = channels
            self.outputChannels = outputChannels
            self.height = height
            self.width = width
            self.paddingHeight = padding
            self.paddingWidth = paddingWidth ?? padding
        }

        static let all: [Case] = [
            Case(2, 3, 4, 5, 7, padding: 0),
            Case(2, 3, 4, 5, 7, padding: 1),
            Case(2, 3, 4, 5, 7, padding: 2),
            Case(1, 1, 1, 3, 3, padding: 0),  // one output
            Case(1, 1, 3, 1, 1, padding: 1),
            Case(2, 3, 1, 1, 1, padding: 2),
            Case(1, 32, 32, 14, 14, padding: 1),
            Case(3, 32, 3, 14, 14, padding: 1),
            Case(2, 3, 32, 14, 14, padding: 0),
            Case(1, 3, 5, 28, 28, padding: 1),
            Case(2, 9, 17, 6, 10, padding: 1, paddingWidth: 2),  // channels not multiples of 8
            Case(0, 3, 4, 5, 7, padding: 1),  // empty batch
            Case(17, 16, 16, 8, 8, padding: 1),  // several chunks, the last shorter
            // 2×2 filters: F(4×4, 2×2)
            Case(2, 3, 4, 5, 7, padding: 0, kernel: 2),
            Case(2, 3, 4, 5, 7, padding: 1, kernel: 2),
            Case(1, 1, 1, 2, 2, padding: 0, kernel: 2),  // one output
            Case(2, 9, 17, 8, 8, padding: 1, paddingWidth: 0, kernel: 2),
            Case(1, 3, 5, 9, 13, padding: 1, kernel: 2),
            Case(0, 3, 4, 5, 7, padding: 1, kernel: 2),  // empty batch
            Case(17, 16, 16, 8, 8, padding: 1, kernel: 2),  // several chunks, the last shorter
        ]
    }

    /// The direct convolution of `input` with `filter`, by NaiveKernels.
    static func direct<S: TensorScalar>(
        _ t: Case, _ input: Tensor<S>, _ filter: Tensor<S>
    ) -> [S] {
        var expected = [S](repeating: .nan, count: t.outputShape.reduce(1, *))
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                expected.withUnsafeMutableBufferPointer {
                    NaiveKernels.convolution2D(t.geometry, input: input, filter: filter, output: $0)
                }
            }
        }
        return expected
    }

    /// The input gradient by its definition: dx[n, c, y, x] = Σ dy[n, o, y + p − i, x + p − j] ·
    /// w[o, c, i, j] over the output positions in range.
    static func directInputGradient<S: TensorScalar>(
        _ t: Case, _ gradient: Tensor<S>, _ filter: Tensor<S>
    ) -> [S] {
        let (oh, ow) = (t.geometry.outputHeight, t.geometry.outputWidth)
        let dy = gradient.scalars
        let w = filter.scalars
        var dx = [S](repeating: 0, count: t.inputShape.reduce(1, *))
        for n in 0..<t.batch {
            for c in 0..<t.channels {
                for y in 0..<t.height {
                    for x in 0..<t.width {
                        var sum: S = 0
                        for o in 0..<t.outputChannels {
                            for i in 0..<t.kernel {
                                for j in 0..<t.kernel {
                                    let (oy, ox) = (y + t.paddingHeight - i, x + t.paddingWidth - j)
                                    guard oy >= 0, oy < oh, ox >= 0, ox < ow else { continue }
                                    sum +=
                                        dy[((n * t.outputChannels + o) * oh + oy) * ow + ox]
                                        * w[((o * t.channels + c) * t.kernel + i) * t.kernel + j]
                                }
                            }
                        }
                        dx[((n * t.channels + c) * t.height + y) * t.width + x] = sum
                    }
                }
            }
        }
        return dx
    }

    /// The Winograd convolution through a workspace filled with NaN first, which must not leak.
    static func winograd<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, _ variant: WinogradKernels.Variant,
        _ input: Tensor<S>, _ filter: Tensor<S>
    ) -> Tensor<S> {
        let outputChannels = filter.shape[0]
        let count = WinogradKernels.workspaceCount(
            geometry, outputChannels: outputChannels, variant: variant, scalar: S.self)
        let workspace = UnsafeMutableBufferPointer<S>.allocate(capacity: count)
        defer { workspace.deallocate() }
        workspace.initialize(repeating: .nan)
        let shape = [geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
        return Tensor(unsafeUninitializedShape: shape) { output in
            input.withUnsafeBufferPointer { input in
                filter.withUnsafeBufferPointer { filter in
                    WinogradKernels.convolution2D(
                        geometry, variant: variant, input: input, filter: filter,
                        output: output, workspace: workspace)
                }
            }
        }
    }

    @Test(
        "Winograd convolution matches the direct convolution",
        arguments: ScalarType.allCases, Case.all)
    func forward(scalar: ScalarType, t: Case) {
        switch scalar {
        case .float: checkForward(t, Float.self)
        case .double: checkForward(t, Double.self)
        }
    }

    func checkForward<S: TensorScalar>(_ t: Case, _: S.Type) {
        var random = SeededGenerator(seed: 0x3140 &+ t.seed)
        let input: Tensor<S> = random.tensor(t.inputShape)
        let filter: Tensor<S> = random.tensor(t.filterShape)
        let expected = Self.direct(t, input, filter)
        for variant in t.variants {
            let output = Self.winograd(t.geometry, variant, input, filter)
            #expect(output.shape == t.outputShape)
            expectClose(output.scalars, expected, tolerance: tolerance(S.self), "\(variant)")
        }
    }

    @Test(
        "Winograd input gradient matches its definition",
        arguments: ScalarType.allCases, Case.all)
    func inputGradient(scalar: ScalarType, t: Case) {
        switch scalar {
        case .float: checkInputGradient(t, Float.self)
        case .double: checkInputGradient(t, Double.self)
        }
    }

    func checkInputGradient<S: TensorScalar>(_ t: Case, _: S.Type) {
        var random = SeededGenerator(seed: 0x6AD &+ t.seed)
        let gradient: Tensor<S> = random.tensor(t.outputShape)
        let filter: Tensor<S> = random.tensor(t.filterShape)
        let expected = Self.directInputGradient(t, gradient, filter)
        let actual = WinogradKernels.conv2dBackwardInput(
            gradient, filter: filter, geometry: t.geometry)
        #expect(actual.shape == t.inputShape)
        expectClose(actual.scalars, expected, tolerance: tolerance(S.self))
    }

    /// The filter gradient by its definition: dw[o, c, i, j] = Σ dy[n, o, oy, ox] ·
    /// x[n, c, oy + i − p, ox + j − p] over the input positions in range.
    static func directFilterGradient<S: TensorScalar>(
        _ t: Case, _ gradient: Tensor<S>, _ input: Tensor<S>
    ) -> [S] {
        let (oh, ow) = (t.geometry.outputHeight, t.geometry.outputWidth)
        let dy = gradient.scalars
        let x = input.scalars
        var dw = [S](repeating: 0, count: t.filterShape.reduce(1, *))
        for o in 0..<t.outputChannels {
            for c in 0..<t.channels {
                for i in 0..<t.kernel {
                    for j in 0..<t.kernel {
                        var sum: S = 0
                        for n in 0..<t.batch {
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    let (y, xx) = (
                                        oy + i - t.paddingHeight, ox + j - t.paddingWidth
                                    )
                                    guard y >= 0, y < t.height, xx >= 0, xx < t.width else {
                                        continue
                                    }
                                    sum +=
                                        dy[((n * t.outputChannels + o) * oh + oy) * ow + ox]
                                        * x[((n * t.channels + c) * t.height + y) * t.width + xx]
                                }
                            }
                        }
                        dw[((o * t.channels + c) * t.kernel + i) * t.kernel + j] = sum
                    }
                }
            }
        }
        return dw
    }

    @Test(
        "Winograd filter gradient matches its definition",
        arguments: ScalarType.allCases, Case.all)
    func filterGradient(scalar: ScalarType, t: Case) {
        switch scalar {
        case .float: checkFilterGradient(t, Float.self)
        case .double: checkFilterGradient(t, Double.self)
        }
    }

    func checkFilterGradient<S: TensorScalar>(_ t: Case, _: S.Type) {
        var random = SeededGenerator(seed: 0xF17 &+ t.seed)
        let gradient: Tensor<S> = random.tensor(t.outputShape)
        let input: Tensor<S> = random.tensor(t.inputShape)
        let expected = Self.directFilterGradient(t, gradient, input)
        for variant in t.variants {
            let count = WinogradKernels.workspaceCount(
                t.geometry, outputChannels: t.outputChannels, variant: variant, scalar: S.self)
            let workspace = UnsafeMutableBufferPointer<S>.allocate(capacity: count)
            defer { workspace.deallocate() }
            workspace.initialize(repeating: .nan)
            var actual = [S](repeating: .nan, count: expected.count)
            input.withUnsafeBufferPointer { input in
                gradient.withUnsafeBufferPointer { gradient in
                    actual.withUnsafeMutableBufferPointer {
                        WinogradKernels.filterGradient(
                            t.geometry, variant: variant, input: input, outputGradient: gradient,
                            filterGradient: $0, workspace: workspace)
                    }
                }
            }
            expectClose(actual, expected, tolerance: tolerance(S.self), "\(variant)")
        }
    }

    /// The forward and the filter gradient in one pass over the input, with the input's
    /// channel sums, against the direct convolution and the definitions; with several chunks
    /// (17 images) also in groups of one chunk.
    @Test(
        "Winograd forward and filter gradient in one pass match their definitions",
        arguments: Case.all.filter { $0.batch > 0 })
    func forwardAndFilterGradient(t: Case) {
        var random = SeededGenerator(seed: 0xF05 &+ t.seed)
        let input: Tensor<Double> = random.tensor(t.inputShape)
        let filter: Tensor<Double> = random.tensor(t.filterShape)
        let gradient: Tensor<Double> = random.tensor(t.outputShape)
        // The whole batch in one group, and one chunk per group (dU added group by group).
        for groupBytes in [WinogradKernels.onePassGroupBytes, 1] {
          for level in [SIMDLevel.portable] + runnableSIMDLevels {
            let result = SIMDLevel.withLevel(level) {
                WinogradKernels.conv2dAndBackwardFilter(
                    input, filter: filter, outputGradient: gradient, geometry: t.geometry,
                    computesInputChannelSums: true, groupBytes: groupBytes)
            }
            expectClose(result.output.scalars, Self.direct(t, input, filter), tolerance: 1e-12)
            expectClose(result.filterGradient.scalars, Self.directFilterGradient(t, gradient, input), tolerance: 1e-12)
            expectClose(result.inputChannelSums!.scalars, input.sum(alongAxes: [0, 2, 3]).scalars, tolerance: 1e-12)
          }
        }
    }

    /// Shapes where Winograd pays go through it from conv2d and both gradients, on 1, 2 and
    /// more threads than cores: the batch makes 3 chunks, taken by 1, 2 and 3 workers.
    @Test("conv2d and its gradients use Winograd where it pays", arguments: [1, 2, 16])
    func dispatch(threads: Int) {
        let t = Case(20, 16, 24, 9, 11, padding: 1)
        #expect(WinogradKernels.pays(t.geometry, outputChannels: t.outputChannels))
        #expect(WinogradKernels.paysForInputGradient(t.geometry, outputChannels: t.outputChannels))
        BLASThreadsForTests.with(threads) {
            let plan = WinogradKernels.Plan(
                t.geometry, outputChannels: t.outputChannels, scalar: Double.self)
            // 3 chunks whatever the thread count (which other tests may change meanwhile).
            #expect((t.batch + plan.imagesPerChunk - 1) / plan.imagesPerChunk == 3)
            var random = SeededGenerator(seed: 0xD15 &+ t.seed)
            let input: Tensor<Double> = random.tensor(t.inputShape)
            let filter: Tensor<Double> = random.tensor(t.filterShape)
            let gradient: Tensor<Double> = random.tensor(t.outputShape)
            let output = conv2d(input, filter: filter, configuration: t.configuration)
            expectClose(output.scalars, Self.direct(t, input, filter), tolerance: 1e-12)
            let inputGradient = conv2dBackwardInput(
                gradient, filter: filter, inputShape: t.inputShape, configuration: t.configuration)
            expectClose(
                inputGradient.scalars, Self.directInputGradient(t, gradient, filter),
                tolerance: 1e-12)
            let filterGradient = conv2dBackwardFilter(
                gradient, input: input, filterShape: t.filterShape, configuration: t.configuration)
            expectClose(
                filterGradient.scalars, Self.directFilterGradient(t, gradient, input),
                tolerance: 1e-12)
        }
    }

    @Test("Winograd is used only for 3×3 kernels with stride and dilation 1, and many channels")
    func dispatchConditions() {
        func geometry(
            channels: Int = 32, size: Int = 14, kernel: Int = 3,
            _ configuration: Convolution2DConfiguration = .init(padding: 1)
        ) -> Convolution2DGeometry {
            Convolution2DGeometry(
                batch: 4, channels: channels, height: size, width: size, kernelHeight: kernel,
                kernelWidth: kernel, configuration: configuration)
        }
        #expect(WinogradKernels.pays(geometry(), outputChannels: 64))
        #expect(!WinogradKernels.pays(geometry(channels: 1), outputChannels: 64))
        #expect(!WinogradKernels.pays(geometry(), outputChannels: 1))
        #expect(!WinogradKernels.pays(geometry(kernel: 5), outputChannels: 64))
        #expect(!WinogradKernels.pays(geometry(.init(stride: 2, padding: 1)), outputChannels: 64))
        #expect(!WinogradKernels.pays(geometry(.init(padding: 2, dilation: 2)), outputChannels: 64))
        #expect(
            !WinogradKernels.paysForInputGradient(geometry(.init(padding: 3)), outputChannels: 64))
    }

    /// A NaN or Inf in the input makes every output whose window contains it NaN or ±Inf, as in
    /// the direct convolution; the output transform may spread it over the rest of those outputs'
    /// tiles, but outputs of tiles whose patch does not contain it stay exact.
    @Test(
        "non-finite inputs reach every output whose window contains them",
        arguments: [Double.nan, .infinity], WinogradKernels.Variant.allCases)
    func nonFinite(value: Double, variant: WinogradKernels.Variant) {
        let t = Case(1, 2, 3, 11, 13, padding: 1, kernel: variant.kernel)
        let (y, x) = (5, 6)  // the poisoned input position of channel 1
        var random = SeededGenerator(seed: 0x7A7 &+ t.seed)
        var input: Tensor<Double> = random.tensor(t.inputShape)
        input.withUnsafeMutableBufferPointer { $0[(t.height + y) * t.width + x] = value }
        let filter: Tensor<Double> = random.tensor(t.filterShape)
        let expected = Self.direct(t, input, filter)
        let output = Self.winograd(t.geometry, variant, input, filter).scalars
        let (oh, ow, m, r) = (t.geometry.outputHeight, t.geometry.outputWidth, variant.tile, variant.kernel)
        for o in 0..<t.outputChannels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let index = (o * oh + oy) * ow + ox
                    // Output (oy, ox) reads inputs oy − 1 … oy + r − 2 (padding 1); its tile's patch
                    // reads inputs from the tile's first row − 1 to its last row + r − 2.
                    let inWindow = (oy - 1...oy + r - 2).contains(y) && (ox - 1...ox + r - 2).contains(x)
                    let (tileY, tileX) = (oy / m * m, ox / m * m)
                    let inPatch =
                        (tileY - 1...tileY + m + r - 3).contains(y) && (tileX - 1...tileX + m + r - 3).contains(x)
                    if inWindow {
                        #expect(!output[index].isFinite, "output \(o), \(oy), \(ox)")
                    } else if !inPatch {
                        #expect(
                            abs(output[index] - expected[index]) <= 1e-12,
                            "output \(o), \(oy), \(ox)")
                    }
                }
            }
        }
    }
}

@Suite struct WinogradDeterminismTests {
    /// With several workers, the filter gradient sums each worker's chunks and then the
    /// workers' sums: the same grouping on every run, so the same bits (a training run with a
    /// seed is reproducible at any thread count).
    @Test func filterGradientIsTheSameOnEveryRun() {
        BLASThreadsForTests.with(2) {
            var generator = SeededGenerator(seed: 9)
            let input = Tensor<Float>.randomUniform(shape: [24, 32, 14, 14], in: -1..<1, using: &generator)
            let gradient = Tensor<Float>.randomUniform(shape: [24, 32, 14, 14], in: -1..<1, using: &generator)
            let first = conv2dBackwardFilter(gradient, input: input, filterShape: [32, 32, 3, 3], configuration: .init(padding: 1))
            for _ in 0..<12 {
                let again = conv2dBackwardFilter(gradient, input: input, filterShape: [32, 32, 3, 3], configuration: .init(padding: 1))
                #expect(again.scalars == first.scalars)
            }
        }
    }
}

@Suite struct WinogradMisuseTests {
    /// A wrong output buffer stops with a message naming the kernel and the sizes.
    @Test func outputBufferOfTheWrongSizeStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let geometry = Convolution2DGeometry(
                batch: 1, channels: 2, height: 5, width: 5, kernelHeight: 3, kernelWidth: 3,
                configuration: .init(padding: 1))
            let input = [Float](repeating: 0, count: 50), filter = [Float](repeating: 0, count: 3 * 18)
            var output = [Float](repeating: 0, count: 74)
            var workspace = [Float](repeating: 0, count: 1 << 16)
            input.withUnsafeBufferPointer { input in
                filter.withUnsafeBufferPointer { filter in
                    output.withUnsafeMutableBufferPointer { output in
                        workspace.withUnsafeMutableBufferPointer { workspace in
                            WinogradKernels.convolution2D(
                                geometry, input: input, filter: filter, output: output, workspace: workspace)
                        }
                    }
                }
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("winograd: output needs 75 scalars, but its buffer has 74"), "\(message)")
    }

    /// Depth-to-space into an input whose last column no reduced pixel covers stops, naming it.
    @Test func depthToSpaceTargetWithUncoveredPixelsStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let target = Convolution2DGeometry(
                batch: 1, channels: 4, height: 8, width: 7, kernelHeight: 4, kernelWidth: 4,
                configuration: .init(stride: 2, padding: 0))
            let reduced = SpaceToDepthConvolution.reducedGeometry(target)
            let geometry = WinogradKernels.inputGradientGeometry(reduced, outputChannels: 16)
            let outputGradient = Tensor<Float>.zeros(shape: [1, 16, 3, 2])
            _ = WinogradKernels.conv2d(
                outputGradient, filter: .zeros(shape: [16, 16, 2, 2]), geometry: geometry, depthToSpaceTarget: target)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(
            message.contains("winograd: depth-to-space into input [1, 4, 8, 7] with padding 0×0 needs F(4×4, 2×2)"),
            "\(message)")
    }
}
