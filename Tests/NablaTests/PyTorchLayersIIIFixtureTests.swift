import Foundation
import Testing

@testable import Nabla

/// The Layers III modules as PyTorch 2.13 computes them in training mode: state dicts loaded by
/// name, outputs, and the gradients of a random upstream gradient (with random initial states
/// and final-state gradients for the recurrent layers), on both backward paths. The file and the
/// script that wrote it: Tests/NablaTests/Fixtures, Tests/Fixtures/make_pytorch_fixture.py.
@Suite struct PyTorchLayersIIIFixtureTests {
    static let file: SafeTensors = {
        let url = Bundle.module.url(forResource: "pytorch-layers-3", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! SafeTensors(contentsOf: url.path)
    }()

    static func tensor(_ name: String) -> Tensor<Float> {
        guard let tensor = file.tensor(name, as: Float.self) else { Issue.record("no \(name)"); return .zeros(shape: [0]) }
        return tensor
    }

    /// Checks the parameter gradients of `layer` against `run.<name>.grad.*`, by PyTorch's names.
    static func checkParameterGradients(_ layer: Layer<Float>, _ name: String) {
        for (parameterName, parameter) in layer.namedParameters {
            let expected = tensor("run.\(name).grad.\(parameterName)")
            #expect(parameter.gradient!.isClose(to: expected, rtol: 1e-3, atol: 1e-4), "\(name) \(parameterName)")
        }
    }

    @Test(arguments: [false, true])
    func dcganGenerator(autodiff: Bool) throws {
        var g = SeededGenerator(seed: 0)
        let generator = Sequential<Float>(
            ConvTranspose2D(inputChannels: 8, outputChannels: 6, kernelSize: 4, bias: false, using: &g),
            BatchNorm(featureCount: 6), ReLU(),
            ConvTranspose2D(inputChannels: 6, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, bias: false, using: &g),
            BatchNorm(featureCount: 3), ReLU(),
            ConvTranspose2D(inputChannels: 3, outputChannels: 1, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, using: &g),
            Tanh())
        try generator.loadState(from: Self.file, prefix: "generator.")
        generator.useAutodiff = autodiff
        let output = generator.forward(Self.tensor("run.generator.input.0"))
        #expect(output.shape == [4, 1, 16, 16])
        expectClose(output, Self.tensor("run.generator.output.0"), rtol: 1e-4, atol: 1e-5)
        let inputGradient = generator.backward(Self.tensor("run.generator.upstream.0"))!
        expectClose(inputGradient, Self.tensor("run.generator.input_grad.0"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(generator, "generator")
    }

    @Test(arguments: [false, true])
    func twoLayerBidirectionalLSTM(autodiff: Bool) throws {
        var g = SeededGenerator(seed: 0)
        let lstm = LSTM<Float>(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, using: &g)
        try lstm.loadState(from: Self.file, prefix: "lstm2.")
        lstm.useAutodiff = autodiff
        func t(_ name: String) -> Tensor<Float> { Self.tensor("run.lstm2.\(name)") }
        let (output, final) = lstm.forward(t("input.0"), initialState: LSTMState(hidden: t("input.1"), cell: t("input.2")))
        expectClose(output, t("output.0"), rtol: 1e-4, atol: 1e-5)
        expectClose(final.hidden, t("output.1"), rtol: 1e-4, atol: 1e-5)
        expectClose(final.cell, t("output.2"), rtol: 1e-4, atol: 1e-5)
        let gradients = lstm.backward(
            t("upstream.0"), finalStateGradient: LSTMState(hidden: t("upstream.1"), cell: t("upstream.2")))
        expectClose(gradients.input!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
        expectClose(gradients.initialState.hidden, t("input_grad.1"), rtol: 1e-3, atol: 1e-4)
        expectClose(gradients.initialState.cell, t("input_grad.2"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(lstm, "lstm2")
    }

    @Test(arguments: [false, true])
    func threeLayerGRUBatchFirst(autodiff: Bool) throws {
        var g = SeededGenerator(seed: 0)
        let gru = GRU<Float>(inputSize: 3, hiddenSize: 4, numLayers: 3, batchFirst: true, using: &g)
        try gru.loadState(from: Self.file, prefix: "gru3.")
        gru.useAutodiff = autodiff
        func t(_ name: String) -> Tensor<Float> { Self.tensor("run.gru3.\(name)") }
        let (output, final) = gru.forward(t("input.0"), initialState: nil)
        expectClose(output, t("output.0"), rtol: 1e-4, atol: 1e-5)
        expectClose(final, t("output.1"), rtol: 1e-4, atol: 1e-5)
        let gradients = gru.backward(t("upstream.0"), finalStateGradient: t("upstream.1"))
        expectClose(gradients.input!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(gru, "gru3")
    }

    /// Training on the instances' statistics updates the running ones as PyTorch; inference then
    /// normalizes with them.
    @Test(arguments: [false, true])
    func instanceNormWithRunningStatistics(autodiff: Bool) throws {
        let layer = InstanceNorm2D<Float>(featureCount: 3, affine: true, trackRunningStatistics: true)
        try layer.loadState(from: Self.file, prefix: "inorm.")
        layer.useAutodiff = autodiff
        func t(_ name: String) -> Tensor<Float> { Self.tensor("run.inorm.\(name)") }
        expectClose(layer.forward(t("input.0")), t("output.0"), rtol: 1e-4, atol: 1e-5)
        expectClose(layer.backward(t("upstream.0"))!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(layer, "inorm")
        expectClose(layer.runningMean!.value, t("running_mean_after"), rtol: 1e-5, atol: 1e-6)
        expectClose(layer.runningVariance!.value, t("running_var_after"), rtol: 1e-5, atol: 1e-6)
        #expect(layer.batchesTracked!.value.scalar == 1)
        let inference = LearningPhase.inference { layer.forward(Self.tensor("run.inorm_eval.input.0")) }
        expectClose(inference, Self.tensor("run.inorm_eval.output.0"), rtol: 1e-4, atol: 1e-5)
    }

    @Test(arguments: [false, true])
    func rmsNorm(autodiff: Bool) throws {
        let layer = RMSNorm<Float>(normalizedShape: [5])
        try layer.loadState(from: Self.file, prefix: "rms.")
        layer.useAutodiff = autodiff
        func t(_ name: String) -> Tensor<Float> { Self.tensor("run.rms.\(name)") }
        expectClose(layer.forward(t("input.0")), t("output.0"), rtol: 1e-4, atol: 1e-5)
        expectClose(layer.backward(t("upstream.0"))!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(layer, "rms")
    }

    /// Two-layer encoders against PyTorch in training (dropout 0): post-norm ReLU with a causal
    /// mask and key padding, pre-norm GELU with a final norm.
    @Test(arguments: [false, true], [false, true])
    func transformerEncoders(preNorm: Bool, autodiff: Bool) throws {
        var g = SeededGenerator(seed: 0)
        let name = preNorm ? "pre" : "post"
        let encoder = TransformerEncoder<Float>(count: 2, finalNorm: preNorm, using: &g) {
            TransformerEncoderLayer(
                dModel: 6, heads: preNorm ? 3 : 2, feedForwardSize: preNorm ? 5 : 8, dropout: 0,
                activation: preNorm ? .gelu : .relu, normFirst: preNorm, batchFirst: true, using: &$0)
        }
        try encoder.loadState(from: Self.file, prefix: "\(name).")
        encoder.attentionMask = Tensor(shape: [4, 4], scalars: (0..<16).map { $0 % 4 > $0 / 4 ? 1 : 0 })
        if !preNorm { encoder.keyPaddingMask = Self.tensor("run.post.padding") }
        encoder.useAutodiff = autodiff
        func t(_ key: String) -> Tensor<Float> { Self.tensor("run.\(name).\(key)") }
        expectClose(encoder.forward(t("input.0")), t("output.0"), rtol: 1e-4, atol: 1e-5)
        expectClose(encoder.backward(t("upstream.0"))!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
        Self.checkParameterGradients(encoder, name)
    }

    /// A depthwise Conv2d with a channel multiplier, a grouped, dilated Conv1d and a grouped
    /// ConvTranspose2d with output padding.
    @Test(arguments: [false, true])
    func groupedConvolutions(autodiff: Bool) throws {
        var g = SeededGenerator(seed: 0)
        let layers: [(String, Layer<Float>)] = [
            ("depthwise", Conv2D(inputChannels: 3, outputChannels: 6, kernelSize: 3, stride: 2, padding: 1, groups: 3, using: &g)),
            ("conv1d", Conv1D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, dilation: 2, groups: 2, using: &g)),
            ("transposed", ConvTranspose2D(
                inputChannels: 4, outputChannels: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, groups: 2, using: &g)),
        ]
        for (name, layer) in layers {
            try layer.loadState(from: Self.file, prefix: "\(name).")
            layer.useAutodiff = autodiff
            func t(_ key: String) -> Tensor<Float> { Self.tensor("run.\(name).\(key)") }
            expectClose(layer.forward(t("input.0")), t("output.0"), rtol: 1e-4, atol: 1e-5)
            expectClose(layer.backward(t("upstream.0"))!, t("input_grad.0"), rtol: 1e-3, atol: 1e-4)
            Self.checkParameterGradients(layer, name)
        }
    }

    /// Resampling and padding as PyTorch computes them: outputs and input gradients.
    @Test(arguments: [false, true])
    func resamplingAndPadding(autodiff: Bool) {
        let layers: [(String, Layer<Float>)] = [
            ("nearest", Upsample(scaleFactor: 2)),
            ("bilinear", Upsample(size: (5, 7), mode: .bilinear(alignCorners: false))),
            ("bilinear_corners", Upsample(scaleFactor: 1.5, mode: .bilinear(alignCorners: true))),
            ("adaptive", AdaptiveAvgPool2D(outputSize: (2, 3))),
            ("zeropad", ZeroPad2D(padding: Padding2D(left: 1, right: 0, top: 2, bottom: 1))),
            ("reflectionpad", ReflectionPad2D(padding: Padding2D(left: 2, right: 1, top: 1, bottom: 0))),
            ("shuffle", PixelShuffle(upscaleFactor: 2)),
            ("unshuffle", PixelUnshuffle(downscaleFactor: 2)),
        ]
        for (name, layer) in layers {
            layer.useAutodiff = autodiff
            func t(_ key: String) -> Tensor<Float> { Self.tensor("run.\(name).\(key)") }
            let output = layer.forward(t("input.0"))
            #expect(output.shape == t("output.0").shape, "\(name)")
            expectClose(output, t("output.0"), rtol: 1e-5, atol: 1e-6)
            expectClose(layer.backward(t("upstream.0"))!, t("input_grad.0"), rtol: 1e-5, atol: 1e-6)
        }
    }
}
