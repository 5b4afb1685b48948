import Testing

@testable import Nabla

extension LayerCase {
    /// Grouped and depthwise convolutions, transposed and 1-D too.
    static let groupedConvolutions: [LayerCase] = [
        .init(name: "Conv2D(4 → 6, 3×3, 2 groups, padding 1)", inputShape: [2, 4, 4, 4]) {
            Conv2D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, groups: 2, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, groups: 2, using: &$0)
        },
        .init(name: "Conv2D(3 → 6, depthwise ×2, 3×2, stride 2×1, padding 1×0, dilation 1×2)", inputShape: [2, 3, 5, 6]) {
            Conv2D(inputChannels: 3, outputChannels: 6, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, groups: 3, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 3, outputChannels: 6, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, groups: 3, using: &$0)
        },
        .init(name: "Conv2D(3 → 3, depthwise 3×3, padding 1), first layer", inputShape: [2, 3, 4, 4], computesInputGradient: false) {
            Conv2D(inputChannels: 3, outputChannels: 3, kernelSize: 3, padding: 1, groups: 3, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 3, outputChannels: 3, kernelSize: 3, padding: 1, groups: 3, using: &$0)
        },
        .init(name: "ConvTranspose2D(4 → 2, 3×3, stride 2, 2 groups)", inputShape: [2, 4, 3, 3]) {
            ConvTranspose2D(inputChannels: 4, outputChannels: 2, kernelSize: 3, stride: 2, groups: 2, using: &$0)
        } makeFloat: {
            ConvTranspose2D(inputChannels: 4, outputChannels: 2, kernelSize: 3, stride: 2, groups: 2, using: &$0)
        },
        .init(name: "Conv1D(3 → 4, kernel 3, stride 2, padding 1, dilation 2)", inputShape: [2, 3, 9]) {
            Conv1D(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, dilation: 2, using: &$0)
        } makeFloat: {
            Conv1D(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, dilation: 2, using: &$0)
        },
        .init(name: "Conv1D(4 → 4, depthwise, kernel 5, padding 2, no bias)", inputShape: [3, 4, 7]) {
            Conv1D(inputChannels: 4, outputChannels: 4, kernelSize: 5, padding: 2, groups: 4, bias: false, using: &$0)
        } makeFloat: {
            Conv1D(inputChannels: 4, outputChannels: 4, kernelSize: 5, padding: 2, groups: 4, bias: false, using: &$0)
        },
    ]
}

/// Grouped convolutions against their definition, written as loops over every output position:
/// `y[n, o, oy, ox] = Σ_{c in o's group} Σ_{i, j} x[n, c, oy·s − p + i·d, ox·s − p + j·d] · w[o, c − first, i, j]`.
@Suite struct GroupedConvolutionTests {
    struct Setting: Sendable, CustomTestStringConvertible {
        let channels: Int, outputChannels: Int, groups: Int, kernel: (Int, Int)
        let configuration: Convolution2DConfiguration
        var testDescription: String {
            "\(channels) → \(outputChannels), \(groups) groups, \(kernel.0)×\(kernel.1), \(configuration)"
        }
    }

    static let settings: [Setting] = [
        Setting(channels: 4, outputChannels: 6, groups: 2, kernel: (3, 3), configuration: .init(padding: 1)),
        Setting(channels: 6, outputChannels: 6, groups: 3, kernel: (2, 3), configuration: LayerCase.oddConvolution),
        Setting(channels: 3, outputChannels: 3, groups: 3, kernel: (3, 3), configuration: .init(padding: 1)),
        Setting(channels: 3, outputChannels: 6, groups: 3, kernel: (3, 2), configuration: LayerCase.oddConvolution),
        Setting(channels: 2, outputChannels: 4, groups: 2, kernel: (3, 3), configuration: .init(stride: 2, padding: 2, dilation: 2)),
        Setting(channels: 5, outputChannels: 5, groups: 5, kernel: (1, 1), configuration: .init(stride: 3)),
        Setting(channels: 4, outputChannels: 4, groups: 4, kernel: (5, 5), configuration: .init(padding: 2)),
        Setting(channels: 4, outputChannels: 8, groups: 4, kernel: (3, 3), configuration: .init(stride: 2, padding: 1)),
        Setting(channels: 2, outputChannels: 2, groups: 2, kernel: (3, 2), configuration: .init(stride: 3, padding: 2, dilation: 2)),
    ]

    /// Calls `visit(y index, x index, w index)` for every product the definition sums.
    static func visitProducts(
        _ s: Setting, batch: Int, height: Int, width: Int, _ visit: (Int, Int, Int) -> Void
    ) {
        let c = s.configuration, (kh, kw) = s.kernel
        let oh = (height + 2 * c.paddingHeight - c.dilationHeight * (kh - 1) - 1) / c.strideHeight + 1
        let ow = (width + 2 * c.paddingWidth - c.dilationWidth * (kw - 1) - 1) / c.strideWidth + 1
        let (inGroup, outGroup) = (s.channels / s.groups, s.outputChannels / s.groups)
        for n in 0..<batch { for o in 0..<s.outputChannels { for oy in 0..<oh { for ox in 0..<ow {
            for ci in 0..<inGroup { for i in 0..<kh { for j in 0..<kw {
                let y = oy * c.strideHeight - c.paddingHeight + i * c.dilationHeight
                let x = ox * c.strideWidth - c.paddingWidth + j * c.dilationWidth
                guard y >= 0, y < height, x >= 0, x < width else { continue }
                let channel = o / outGroup * inGroup + ci
                visit(((n * s.outputChannels + o) * oh + oy) * ow + ox,
                      ((n * s.channels + channel) * height + y) * width + x,
                      ((o * inGroup + ci) * kh + i) * kw + j)
            } } }
        } } } }
    }

    @Test(arguments: settings)
    func allThreePassesMatchTheDefinition(_ s: Setting) {
        let (batch, height, width) = (2, 6, 7)
        let x: Tensor<Double> = randomTensor([batch, s.channels, height, width], seed: 1)
        let w: Tensor<Double> = randomTensor([s.outputChannels, s.channels / s.groups, s.kernel.0, s.kernel.1], seed: 2)
        let y = conv2d(x, filter: w, configuration: s.configuration, groups: s.groups)
        let g: Tensor<Double> = randomTensor(y.shape, seed: 3)
        var (expectedY, expectedX, expectedW) = (
            [Double](repeating: 0, count: y.scalarCount), [Double](repeating: 0, count: x.scalarCount),
            [Double](repeating: 0, count: w.scalarCount))
        let (xs, ws, gs) = (x.scalars, w.scalars, g.scalars)
        Self.visitProducts(s, batch: batch, height: height, width: width) { yi, xi, wi in
            expectedY[yi] += xs[xi] * ws[wi]
            expectedX[xi] += gs[yi] * ws[wi]
            expectedW[wi] += gs[yi] * xs[xi]
        }
        expectClose(y, Tensor(shape: y.shape, scalars: expectedY), rtol: 1e-12, atol: 1e-12)
        let inputGradient = conv2dBackwardInput(g, filter: w, inputShape: x.shape, configuration: s.configuration, groups: s.groups)
        expectClose(inputGradient, Tensor(shape: x.shape, scalars: expectedX), rtol: 1e-12, atol: 1e-12)
        let filterGradient = conv2dBackwardFilter(g, input: x, filterShape: w.shape, configuration: s.configuration, groups: s.groups)
        expectClose(filterGradient, Tensor(shape: w.shape, scalars: expectedW), rtol: 1e-12, atol: 1e-12)
        // Float, through the same algorithm.
        let yFloat = conv2d(converted(x, to: Float.self), filter: converted(w, to: Float.self), configuration: s.configuration, groups: s.groups)
        expectClose(yFloat, converted(y, to: Float.self), rtol: 1e-5, atol: 1e-5)
    }

    /// Large enough to split across threads, more threads than cores: the parallel depthwise
    /// passes agree with the definition.
    @Test func depthwiseOnThreeThreads() {
        let s = Setting(channels: 16, outputChannels: 32, groups: 16, kernel: (3, 3), configuration: .init(padding: 1))
        let x: Tensor<Float> = randomTensor([16, 16, 28, 28], seed: 1)
        let w: Tensor<Float> = randomTensor([32, 1, 3, 3], seed: 2)
        let g: Tensor<Float> = randomTensor([16, 32, 28, 28], seed: 3)
        let (y, dx, dw) = BLASThreadsForTests.with(3) {
            (conv2d(x, filter: w, configuration: s.configuration, groups: s.groups),
             conv2dBackwardInput(g, filter: w, inputShape: x.shape, configuration: s.configuration, groups: s.groups),
             conv2dBackwardFilter(g, input: x, filterShape: w.shape, configuration: s.configuration, groups: s.groups))
        }
        var (expectedY, expectedX, expectedW) = (
            [Double](repeating: 0, count: y.scalarCount), [Double](repeating: 0, count: x.scalarCount),
            [Double](repeating: 0, count: w.scalarCount))
        let (xs, ws, gs) = (x.scalars.map(Double.init), w.scalars.map(Double.init), g.scalars.map(Double.init))
        Self.visitProducts(s, batch: 16, height: 28, width: 28) { yi, xi, wi in
            expectedY[yi] += xs[xi] * ws[wi]
            expectedX[xi] += gs[yi] * ws[wi]
            expectedW[wi] += gs[yi] * xs[xi]
        }
        expectClose(y, Tensor(shape: y.shape, scalars: expectedY.map(Float.init)), rtol: 1e-4, atol: 1e-4)
        expectClose(dx, Tensor(shape: x.shape, scalars: expectedX.map(Float.init)), rtol: 1e-4, atol: 1e-4)
        expectClose(dw, Tensor(shape: w.shape, scalars: expectedW.map(Float.init)), rtol: 1e-4, atol: 1e-3)
    }

    @Test func groupsThatDoNotDivideAreAnError() async {
        let conv = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var g = SeededGenerator(seed: 0)
            _ = Conv2D<Float>(inputChannels: 4, outputChannels: 6, kernelSize: 3, groups: 4, using: &g)
        }
        #expect(standardError(conv).contains("Conv2D: channels 4 → 6, kernel 3×3, stride 1×1, padding 0×0, dilation 1×1: 4 groups must divide both channel counts"))
        let op = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor<Float>.zeros(shape: [1, 4, 5, 5]), filter: .zeros(shape: [6, 2, 3, 3]), groups: 3)
        }
        #expect(standardError(op).contains("conv2d: input [1, 4, 5, 5] and filter [6, 2, 3, 3]: input has 4 channels, filter expects 2 per group × 3 groups"))
        let transposed = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var g = SeededGenerator(seed: 0)
            _ = ConvTranspose2D<Float>(inputChannels: 4, outputChannels: 3, kernelSize: 3, groups: 2, using: &g)
        }
        #expect(standardError(transposed).contains("groups 2: 2 groups must divide both channel counts"))
    }

    @Test func conv1DNamesAndShapes() throws {
        var g = SeededGenerator(seed: 0)
        let conv = Conv1D<Float>(inputChannels: 4, outputChannels: 8, kernelSize: 3, stride: 2, groups: 2, using: &g)
        #expect(conv.weight.value.shape == [8, 2, 3])
        #expect(conv.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(try conv.outputShape(forInput: [5, 4, 11]) == [5, 8, 5])
        #expect(conv.description == "Conv1D(4 → 8, kernel 3, stride 2, padding 0, dilation 1, groups: 2, bias: true)")
        // PyTorch's default: weight and bias from U(±1/√(C/groups·k)).
        let bound = 1 / Float(6).squareRoot()
        #expect((conv.weight.value.scalars + conv.bias!.value.scalars).allSatisfy { abs($0) <= bound })
    }
}
