import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for Sequential, Residual, Concatenate and CustomLayer.
    static let containers: [LayerCase] = [
        .init(name: "Sequential(Dense, Tanh, Dense)", inputShape: [3, 4]) { g in
            Sequential(Dense(inputSize: 4, outputSize: 5, using: &g), Tanh(), Dense(inputSize: 5, outputSize: 2, using: &g))
        } makeFloat: { g in
            Sequential(Dense(inputSize: 4, outputSize: 5, using: &g), Tanh(), Dense(inputSize: 5, outputSize: 2, using: &g))
        },
        .init(name: "Sequential(Conv2D, Sigmoid, Conv2D), first layer", inputShape: [2, 1, 5, 5], computesInputGradient: false) { g in
            Sequential(
                Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &g), Sigmoid(),
                Conv2D(inputChannels: 2, outputChannels: 2, kernelSize: 2, stride: 2, using: &g))
        } makeFloat: { g in
            Sequential(
                Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &g), Sigmoid(),
                Conv2D(inputChannels: 2, outputChannels: 2, kernelSize: 2, stride: 2, using: &g))
        },
        .init(name: "Residual(Dense, Tanh, Dense)", inputShape: [3, 4]) { g in
            Residual(Sequential(Dense(inputSize: 4, outputSize: 4, using: &g), Tanh(), Dense(inputSize: 4, outputSize: 4, using: &g)))
        } makeFloat: { g in
            Residual(Sequential(Dense(inputSize: 4, outputSize: 4, using: &g), Tanh(), Dense(inputSize: 4, outputSize: 4, using: &g)))
        },
        .init(name: "Residual(Conv2D, GELU) with a 1×1 projection", inputShape: [2, 2, 4, 4]) { g in
            Residual(
                Sequential(Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &g), GELU()),
                projection: Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 1, using: &g))
        } makeFloat: { g in
            Residual(
                Sequential(Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &g), GELU()),
                projection: Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 1, using: &g))
        },
        .init(name: "Concatenate(Dense, Sequential(Dense, Sigmoid))", inputShape: [3, 4]) { g in
            Concatenate([Dense(inputSize: 4, outputSize: 2, using: &g), Sequential(Dense(inputSize: 4, outputSize: 3, using: &g), Sigmoid())])
        } makeFloat: { g in
            Concatenate([Dense(inputSize: 4, outputSize: 2, using: &g), Sequential(Dense(inputSize: 4, outputSize: 3, using: &g), Sigmoid())])
        },
        .init(name: "CustomLayer(SwishGate)", inputShape: [3, 4]) { g in swishGate(&g) } makeFloat: { g in swishGate(&g) },
    ]
}

/// `x ⊙ sigmoid(x ⊙ gate)`: a custom layer with one parameter.
func swishGate<Scalar: TensorScalar>(_ generator: inout SeededGenerator) -> Layer<Scalar> {
    let gate = Parameter<Scalar>(name: "gate", value: .randomNormal(shape: [4], using: &generator))
    return CustomLayer("SwishGate", parameters: [gate]) { x, p in x * TensorOperations.sigmoid(x * p[0]) }
}

@Suite struct ContainerTests {
    func network(_ generator: inout SeededGenerator) -> Sequential<Double> {
        Sequential(
            named: [
                ("fc1", Dense(inputSize: 4, outputSize: 3, using: &generator)), ("act", Tanh()),
                ("block", Residual(Sequential(Dense(inputSize: 3, outputSize: 3, using: &generator), ReLU()))),
            ])
    }

    @Test func namesFollowPyTorch() {
        var generator = SeededGenerator(seed: 0)
        let names = network(&generator).namedParameters.map(\.name)
        #expect(names == ["fc1.weight", "fc1.bias", "block.body.0.weight", "block.body.0.bias"])
        let positional = Sequential<Double>(Dense(inputSize: 2, outputSize: 2, using: &generator), ReLU())
        #expect(positional.namedParameters.map(\.name) == ["0.weight", "0.bias"])
    }

    /// `useAutodiff` on a container reaches every nested layer; a layer's own setting can be
    /// changed afterwards. Which path each layer ran shows in whether it recorded a tape.
    @Test func useAutodiffReachesNestedLayersAndCanBeOverridden() {
        var generator = SeededGenerator(seed: 0)
        let net = network(&generator)
        let residual = net.layers[2] as! Residual<Double>
        let inner = residual.body as! Sequential<Double>
        net.useAutodiff = true
        let flags = [net.layers[0], net.layers[1], inner.layers[0], inner.layers[1]].map(\.useAutodiff)
        #expect(flags == [true, true, true, true])
        inner.layers[0].useAutodiff = false
        _ = net.forward(randomTensor([2, 4], seed: 1))
        #expect(net.layers[0].autodiffTape != nil && net.layers[1].autodiffTape != nil)
        #expect(inner.layers[0].autodiffTape == nil && inner.layers[1].autodiffTape != nil)
        #expect(net.autodiffTape == nil)  // containers run their layers' own paths
        net.useAutodiff = false
        _ = net.forward(randomTensor([2, 4], seed: 1))
        #expect(net.layers[0].autodiffTape == nil && inner.layers[1].autodiffTape == nil)
    }

    @Test func describesItsLayers() {
        var generator = SeededGenerator(seed: 0)
        let description = network(&generator).description
        #expect(description == """
            Sequential(
              (fc1): Dense(4 → 3, bias: true)
              (act): Tanh()
              (block): Residual(
                (body): Sequential(
                  (0): Dense(3 → 3, bias: true)
                  (1): ReLU()
                )
              )
            )
            """)
    }

    @Test func residualNeedsAProjectionWhenShapesDiffer() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Residual<Float>(Dense(inputSize: 4, outputSize: 3, using: &generator)).forward(.zeros(shape: [2, 4]))
        }
        #expect(standardError(result).contains("Residual: body output [2, 3] and shortcut [2, 4] differ; give a projection"))
    }

    /// A custom layer's graph forward can be differentiated twice, unlike a hand-written
    /// backward: its second derivative is checked in the parity table. Here: it records its ops
    /// under its own name.
    @Test func customLayerRecordsUnderItsName() {
        var generator = SeededGenerator(seed: 0)
        let layer: Layer<Double> = swishGate(&generator)
        _ = layer.forward(randomTensor([2, 4], seed: 1))
        let graph = layer.autodiffTape?.graphviz() ?? ""
        #expect(graph.contains("SwishGate"))
        #expect(layer.description == "SwishGate(gate: [4])")
    }
}

/// The example of the CustomLayers article, run as written.
@Suite struct CustomLayerArticleTests {
    @Test func exampleRuns() {
        typealias Ops = TensorOperations<Double>
        var generator = SeededGenerator(seed: 0)
        let gate = Parameter<Double>(name: "gate", value: .randomNormal(shape: [64], using: &generator))
        let swishGate = CustomLayer("SwishGate", parameters: [gate]) { x, p in
            x * Ops.sigmoid(x * p[0])
        }
        let network = Sequential<Double>(
            Dense(inputSize: 32, outputSize: 64, using: &generator), swishGate,
            Dense(inputSize: 64, outputSize: 10, using: &generator))
        let batch = Tensor<Double>.randomNormal(shape: [8, 32], using: &generator)
        let output = network.forward(batch)
        network.backward(Tensor<Double>.ones(shape: output.shape))
        #expect(gate.gradient?.shape == [64])
        let report = LayerGradientCheck.check(swishGate, input: .randomNormal(shape: [4, 64], using: &generator))
        #expect(report.autodiffVersusFiniteDifferences < 1e-7 && (report.secondOrder ?? 1) < 1e-7)
    }

    /// A listed parameter that the closure never uses is an error, not a zero gradient.
    @Test func unusedParameterIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let unused = Parameter<Double>(name: "unused", value: .ones(shape: [2]))
            let layer = CustomLayer("Forgetful", parameters: [unused]) { x, _ in TensorOperations.tanh(x) }
            _ = layer.forward(.ones(shape: [1, 2]))
            layer.backward(.ones(shape: [1, 2]))
        }
        #expect(standardError(result).contains("gradient: source 1 [2] is not connected to the target"))
    }
}

extension ContainerTests {
    /// A layer with parameters before one that computes no input gradient would never train.
    @Test func parametersBeforeAGradientStopAreAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let second = Dense<Float>(inputSize: 3, outputSize: 2, using: &generator)
            let network = Sequential<Float>(Dense(inputSize: 2, outputSize: 3, using: &generator), second)
            second.computesInputGradient = false
            _ = network.forward(.ones(shape: [1, 2]))
            network.backward(.ones(shape: [1, 2]))
        }
        #expect(standardError(result).contains(
            "Sequential: layer (0) Dense(2 → 3, bias: true) has parameters, but a layer after it computes no input gradient"))
    }
}
