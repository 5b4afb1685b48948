/// What a network is made of: its layers in order, the shape of one input sample, and which
/// backward path the layers take.
public struct NeuralNetworkArchitecture<Scalar: TensorScalar> {
    /// The shape of one sample, without the batch axis (`[1, 28, 28]` for Fashion-MNIST).
    public var inputShape: [Int]
    public var layers: [Layer<Scalar>]
    /// Whether every layer, nested ones included, uses the autodiff backward.
    public var useAutodiff: Bool

    public init(inputShape: [Int], layers: [Layer<Scalar>], useAutodiff: Bool = false) {
        self.inputShape = inputShape
        self.layers = layers
        self.useAutodiff = useAutodiff
    }
}

/// Two neighbouring layers whose shapes do not fit, found when a network is built.
public struct ArchitectureError: Error, Equatable, CustomStringConvertible {
    /// The layer that refused its input, with its position.
    public var layer: String
    /// What fed it: the previous layer with its position, or the network's input.
    public var source: String
    /// The shape it was given, batch axis first.
    public var shape: [Int]
    /// What it expects.
    public var reason: String

    public var description: String {
        "layer \(layer) cannot take \(source) of shape \(shape): \(reason)"
    }
}

/// A trainable network: the layers of an architecture, checked shape by shape when built.
///
/// Parameters are named by layer position, as in PyTorch's `nn.Sequential` (`0.weight`,
/// `3.bias`), so weights move between the two through safetensors. The layers up to the first
/// one with parameters compute no input gradient (a `Flatten` first does not make the `Dense`
/// after it compute one).
public final class NeuralNetwork<Scalar: TensorScalar> {
    public let inputShape: [Int]
    /// The layers, run in order.
    public let body: Sequential<Scalar>
    /// Each layer's output shape for a batch of one (batch axis first).
    public let outputShapes: [[Int]]

    /// Builds the network, checking that each layer takes the previous one's output.
    ///
    /// - Throws: ``ArchitectureError`` naming the two layers and the shape.
    public init(_ architecture: NeuralNetworkArchitecture<Scalar>) throws(ArchitectureError) {
        var shape = [1] + architecture.inputShape
        var shapes: [[Int]] = []
        for (index, layer) in architecture.layers.enumerated() {
            do { shape = try layer.outputShape(forInput: shape) } catch {
                throw ArchitectureError(
                    layer: "\(index) \(layer)",
                    source: index == 0 ? "the input" : "the output of \(index - 1) \(architecture.layers[index - 1])",
                    shape: index == 0 ? [1] + architecture.inputShape : shapes[index - 1], reason: error.reason)
            }
            shapes.append(shape)
        }
        self.inputShape = architecture.inputShape
        self.body = Sequential(architecture.layers)
        self.outputShapes = shapes
        body.useAutodiff = architecture.useAutodiff
        // Nothing needs the input gradient before the first layer with parameters.
        for layer in body.layers {
            layer.computesInputGradient = false
            if !layer.parameters.isEmpty { break }
        }
    }

    /// Whether the layers use the autodiff backward. Setting it sets every layer, nested ones
    /// too; a layer's own setting can be changed afterwards.
    public var useAutodiff: Bool {
        get { body.useAutodiff }
        set { body.useAutodiff = newValue }
    }

    public var layers: [Layer<Scalar>] { body.layers }
    public var parameters: [Parameter<Scalar>] { body.parameters }
    public var namedParameters: [(name: String, parameter: Parameter<Scalar>)] { body.namedParameters }
    public var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] { body.namedBuffers }

    /// The forward of a training step, ready for ``backward(_:)``: `[N] + inputShape` in.
    public func forward(_ batch: Tensor<Scalar>) -> Tensor<Scalar> {
        checkBatch(batch.shape)
        return body.forward(batch)
    }

    /// Backpropagates ∂L/∂output through the last forward, accumulating every parameter's
    /// gradient.
    public func backward(_ outputGradient: Tensor<Scalar>) {
        body.backward(outputGradient)
    }

    /// Inference: no tape, Dropout off, BatchNorm on its running statistics.
    public func predict(_ batch: Tensor<Scalar>) -> Tensor<Scalar> {
        checkBatch(batch.shape)
        return body.withBufferPool {
            LearningPhase.inference { withoutRecording { body(TensorOperations.constant(batch)).value } }
        }
    }

    public func zeroGradients() { body.zeroGradients() }

    /// One line per layer with its output shape and parameter count, then the totals, like
    /// Keras's `summary()`.
    public var summary: String {
        var rows = [["Layer", "Output shape", "Parameters"]]
        for (index, (layer, shape)) in zip(layers, outputShapes).enumerated() {
            let count = layer.parameters.map(\.value.scalarCount).reduce(0, +)
            let name = "\(index) " + (layer.description.split(separator: "\n").first.map(String.init) ?? "")
            rows.append([name, "[N, " + shape.dropFirst().map(String.init).joined(separator: ", ") + "]", "\(count)"])
        }
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max()! }
        func line(_ row: [String]) -> String {
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 2 ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }
        let rule = String(repeating: "─", count: widths.reduce(4, +))
        let total = parameters.map(\.value.scalarCount).reduce(0, +)
        return ([line(rows[0]), rule] + rows.dropFirst().map(line)
            + [rule, "Input [N, \(inputShape.map(String.init).joined(separator: ", "))]; \(total) parameters"])
            .joined(separator: "\n")
    }

    private func checkBatch(_ shape: [Int]) {
        Misuse.check(
            Array(shape.dropFirst()) == inputShape && !shape.isEmpty, "NeuralNetwork",
            "batch \(shape): expected [N, \(inputShape.map(String.init).joined(separator: ", "))]")
    }
}
