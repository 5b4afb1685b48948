/// A network layer with two backward passes: a hand-written (manual) one, and one that a
/// ``GradientTape`` derives from the layer's graph-mode forward.
///
/// A subclass writes three things side by side:
/// - ``callAsFunction(_:)``: the forward in ``TensorOperations``, the layer's one autodiff
///   definition. It runs on whatever tapes are recording, so a whole network can be
///   differentiated, and differentiated again (a gradient penalty reaches the weights this way).
/// - ``manualForward(_:)``: the fast tensor forward, which caches what the backward needs.
/// - ``manualBackward(_:)``: the hand-written backward.
///
/// ``forward(_:)`` and ``backward(_:)`` pick the path with ``useAutodiff`` (manual by default).
/// With autodiff, the forward runs ``callAsFunction(_:)`` on a tape the layer owns, watching the
/// input and the parameters, and the backward asks that tape for the gradients with the output
/// gradient as the seed: the forward is computed once and the backward never calls the manual
/// code.
///
/// Parameter gradients **accumulate** across backward passes, on both paths, until
/// ``zeroGradients()``, as in PyTorch (so gradients of several batches can be summed).
/// Whether a layer is training or inferring is the task-local ``LearningPhase``.
open class Layer<Scalar: TensorScalar>: CustomStringConvertible {
    /// Whether ``Layer/backward(_:)`` differentiates the graph-mode forward instead of running the
    /// manual backward. A new value reaches every layer inside a container.
    public var useAutodiff = false {
        didSet { for layer in sublayers { layer.useAutodiff = useAutodiff } }
    }

    /// The layers inside a container, in order; empty for other layers.
    open var sublayers: [Layer<Scalar>] { [] }

    /// Whether ``Layer/backward(_:)`` computes the input gradient. A network's first layer switches it
    /// off and skips that work on both paths.
    open var computesInputGradient = true

    /// The trainable parameters, with names unique within the layer (`weight`, `bias`).
    open var parameters: [Parameter<Scalar>] { [] }

    /// Non-trainable state that is saved with the weights, such as running statistics.
    open var buffers: [Buffer<Scalar>] { [] }

    /// The states of the random generators the layer (and any layer inside it) draws from, such
    /// as Dropout's. Setting them back replays the same random draws, so a check can run the
    /// same forward twice.
    open var randomStates: [SeededGenerator] {
        get { [] }
        set {}
    }

    /// The parameters with names unique within the layer; a container prefixes its layers' names
    /// with theirs (`0.weight`, `body.1.bias`), as PyTorch's `named_parameters()`.
    open var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        parameters.map { ($0.name, $0) }
    }

    /// The buffers with names unique within the layer, prefixed like ``namedParameters``.
    open var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        buffers.map { ($0.name, $0) }
    }

    /// Whether the layer has a hand-written backward; one that does not always uses autodiff.
    open var hasManualBackward: Bool { true }

    /// Whether the layer is a container, whose forward and backward run its layers' own, each on
    /// the path its ``Layer/useAutodiff`` picks.
    open var isContainer: Bool { false }

    /// The configuration, for example `Dense(784 → 256, bias: true)`.
    open var description: String { "\(type(of: self))" }

    /// The output shape for an input of `inputShape` (batch axis first), or what the layer
    /// expects instead: the one shape rule of the layer, which its forwards and a network's
    /// shape inference share. A layer that keeps the shape need not override it.
    open func outputShape(forInput inputShape: [Int]) throws(LayerShapeError) -> [Int] {
        inputShape
    }

    /// The output shape for `inputShape`, or a stop naming the layer, the input shape and what
    /// the layer expects.
    public final func checkedOutputShape(_ inputShape: [Int]) -> [Int] {
        do { return try outputShape(forInput: inputShape) } catch {
            Misuse.fail("\(self)", "input \(inputShape): \(error.reason)")
        }
    }

    /// The graph-mode forward: the layer written with ``TensorOperations``.
    open func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        fatalError("\(type(of: self)) must override callAsFunction(_:)")
    }

    /// The manual forward: computes the output with tensor kernels and caches what
    /// ``manualBackward(_:)`` needs.
    open func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        fatalError("\(type(of: self)) must override manualForward(_:)")
    }

    /// The manual backward: adds the parameter gradients and returns the input gradient, or
    /// `nil` when ``Layer/computesInputGradient`` is off.
    open func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        fatalError("\(type(of: self)) must override manualBackward(_:)")
    }

    /// What the autodiff path recorded in the last forward.
    var recording: (tape: GradientTape<Scalar>, input: Variable<Scalar>, output: Variable<Scalar>)?
    /// The buffers this layer's forward and backward reuse across steps, when the caller installed none.
    private lazy var bufferPool = BufferPool()

    public init() {}

    /// Runs the layer on `input`, on the path ``Layer/useAutodiff`` picks, ready for ``Layer/backward(_:)``.
    public final func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        withBufferPool { pooledForward(input) }
    }

    private func pooledForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard (useAutodiff || !hasManualBackward) && !isContainer else {
            recording = nil
            return manualForward(input)
        }
        let tape = GradientTape<Scalar>()
        let x = TensorOperations.variable(input)
        if computesInputGradient { tape.watch(x) }
        let y = tape.record { withNameScope(String(describing: type(of: self))) { self(x) } }
        recording = (tape, x, y)
        return y.value
    }

    /// Backpropagates `outputGradient` (∂L/∂output, of the last output's shape) through the last
    /// forward: adds each parameter's gradient and returns ∂L/∂input, or `nil` when
    /// ``Layer/computesInputGradient`` is off.
    @discardableResult
    public final func backward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        let inputGradient = withBufferPool { pooledBackward(outputGradient) }
        backwardObserver?(self)
        return inputGradient
    }

    /// Called with this layer at the end of each ``Layer/backward(_:)``, when the gradients of
    /// its parameters are complete for this pass (on either path): what a data-parallel trainer
    /// uses to start averaging them while the layers before it still run.
    public var backwardObserver: ((Layer<Scalar>) -> Void)?

    private func pooledBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let recording else { return manualBackward(outputGradient) }
        self.recording = nil
        let parameters = parameters
        let sources = (computesInputGradient ? [recording.input] : []) + parameters.map(\.variable)
        guard !sources.isEmpty else { return nil }
        let gradients = recording.tape.gradient(
            of: recording.output, withRespectTo: sources, seed: outputGradient)
        for (parameter, gradient) in zip(parameters, gradients.suffix(parameters.count)) {
            parameter.accumulate(gradient.value)
        }
        return computesInputGradient ? gradients[0].value : nil
    }

    /// Runs `body` with a ``BufferPool`` installed: the caller's if there is one, else this
    /// layer's own, so the buffers of one step are reused by the next.
    func withBufferPool<R>(_ body: () -> R) -> R {
        if BufferPool.current != nil { return body() }
        return bufferPool.withInstalled(body)
    }

    /// Clears the gradients of every parameter.
    public func zeroGradients() {
        for parameter in parameters { parameter.gradient = nil }
    }

    /// The tape of the last autodiff forward, for tests that check what it recorded.
    var autodiffTape: GradientTape<Scalar>? { recording?.tape }
}

/// Why an input shape does not fit a layer, for example `expected [batch, 784]`.
public struct LayerShapeError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Non-trainable state of a layer, such as a running mean: saved with the weights, skipped by
/// optimizers.
public final class Buffer<Scalar: TensorScalar> {
    /// The name within its layer, for example `running_mean`.
    public let name: String
    public var value: Tensor<Scalar>

    public init(name: String, value: Tensor<Scalar>) {
        self.name = name
        self.value = value
    }
}

/// Whether layers train or infer: Dropout drops only in training, and BatchNorm normalizes with
/// the batch's statistics in training and its running statistics in inference.
///
/// A task-local mode, training unless a caller says otherwise:
/// ```swift
/// let prediction = LearningPhase.inference { network.forward(batch) }
/// ```
public enum LearningPhase: Sendable {
    case training, inference

    @TaskLocal static var taskValue = LearningPhase.training

    /// The phase in force for the current task.
    public static var current: LearningPhase { taskValue }

    /// Runs `body` with layers in inference.
    public static func inference<R>(_ body: () throws -> R) rethrows -> R {
        try $taskValue.withValue(.inference, operation: body)
    }

    /// Runs `body` with layers in training.
    public static func training<R>(_ body: () throws -> R) rethrows -> R {
        try $taskValue.withValue(.training, operation: body)
    }
}
