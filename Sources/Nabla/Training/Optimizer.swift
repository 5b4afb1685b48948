/// An optimizer: updates a list of ``Parameter``s from their accumulated gradients, in place.
///
/// ```swift
/// let optimizer = Adam(network.parameters, learningRate: 1e-3)
/// for (step, (x, y)) in batches.enumerated() {
///     optimizer.learningRate = schedule.learningRate(atStep: step)
///     let (value, gradient) = loss.valueAndGradient(network.forward(x), target: y)
///     network.backward(gradient)
///     optimizer.clipGradients(maxNorm: 1)
///     optimizer.step()
///     optimizer.zeroGradients()
/// }
/// ```
///
/// The concrete optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSProp``) follow PyTorch's update
/// rules and default hyperparameters, with one parameter group.
///
/// - ``step()`` updates every parameter that has a ``Parameter/gradient``; one without a
///   gradient is skipped and its state untouched, as in PyTorch (its own step count, which Adam's
///   bias correction reads, does not advance).
/// - **No allocation per step**: every state buffer (a momentum, Adam's moments) is allocated
///   once, when the optimizer is made, and every update runs in place over unsafe buffer
///   pointers, writing the parameter through ``Parameter/update(_:)``. The parameter's storage is
///   written where it is, unless something else still holds it (a tape, or a copy of
///   ``Parameter/value`` kept by the caller): then the first update copies it once, as
///   copy-on-write demands.
/// - The state can be saved and restored as named tensors (``saveState()``,
///   ``loadState(_:)``), for example into a safetensors file.
///
/// Hyperparameters other than ``learningRate`` are fixed when the optimizer is made.
public class Optimizer<Scalar: TensorScalar> {
    /// The parameters, in the order given.
    public let parameters: [Parameter<Scalar>]
    /// The name of each parameter in the saved state: its index (`"0"`, `"1"`, …) unless names
    /// were given.
    public let parameterKeys: [String]
    /// The step size, ≥ 0. Set it before each ``step()`` to follow a schedule.
    public var learningRate: Scalar {
        didSet { Self.checkLearningRate(learningRate, name) }
    }
    /// How many times ``step()`` has run.
    public private(set) var stepCount = 0
    /// The names of the state tensors each parameter has, as PyTorch names them
    /// (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, …); the saved state also has a `step` per
    /// parameter.
    public let stateNames: [String]
    /// The optimizer's name in messages, for example `Adam`.
    let name: String
    /// One state per parameter, allocated once.
    let states: [ParameterState<Scalar>]

    init(
        name: String, parameters: [Parameter<Scalar>], keys: [String]?, learningRate: Scalar,
        stateNames: [String]
    ) {
        Self.checkLearningRate(learningRate, name)
        var seen = Set<ObjectIdentifier>()
        for (index, parameter) in parameters.enumerated() {
            Misuse.check(
                seen.insert(ObjectIdentifier(parameter)).inserted, name,
                "parameter \(index) (\(parameter.name) \(parameter.value.shape)) is listed twice: "
                    + "it would be updated twice per step")
        }
        let keys = keys ?? parameters.indices.map(String.init)
        Misuse.check(
            keys.count == parameters.count, name,
            "\(keys.count) names for \(parameters.count) parameters: counts differ")
        Misuse.check(
            Set(keys).count == keys.count, name, "parameter names \(keys) are not unique")
        self.name = name
        self.parameters = parameters
        self.parameterKeys = keys
        self.learningRate = learningRate
        self.stateNames = stateNames
        self.states = parameters.map { ParameterState(shape: $0.value.shape, bufferCount: stateNames.count) }
    }

    /// Updates every parameter that has a gradient, in place, and advances ``stepCount``.
    public final func step() {
        for index in parameters.indices {
            let parameter = parameters[index]
            guard let gradient = parameter.gradient else { continue }
            let state = states[index]
            Misuse.check(
                gradient.shape == state.shape, name,
                "parameter \(parameterKeys[index]) (\(parameter.name)): gradient \(gradient.shape) "
                    + "and value \(state.shape): shapes differ")
            state.step += 1
            parameter.update(using: gradient) { p, g in update(p, gradient: g, state: state) }
        }
        stepCount += 1
    }

    /// Clears every parameter's gradient (sets it to `nil`, as PyTorch's `zero_grad()`).
    public final func zeroGradients() {
        for parameter in parameters { parameter.gradient = nil }
    }

    /// Applies the rule to one parameter: `parameter` and `gradient` have the same count, and
    /// `state.step` already counts this step. Subclasses override it.
    func update(
        _ parameter: UnsafeMutableBufferPointer<Scalar>, gradient: UnsafeBufferPointer<Scalar>,
        state: ParameterState<Scalar>
    ) {
        fatalError("\(name) must override update(_:gradient:state:)")
    }

    static func checkLearningRate(_ learningRate: Scalar, _ name: String) {
        Misuse.check(
            learningRate >= 0 && learningRate.isFinite, name,
            "learning rate \(learningRate) must be finite and ≥ 0")
    }
}

// MARK: - State

/// What an optimizer keeps for one parameter: how many steps updated it, and its buffers.
final class ParameterState<Scalar: TensorScalar> {
    let shape: [Int]
    /// How many steps updated this parameter (PyTorch's per-parameter `step`).
    var step = 0
    let buffers: [StateBuffer<Scalar>]

    init(shape: [Int], bufferCount: Int) {
        self.shape = shape
        buffers = (0..<bufferCount).map { _ in StateBuffer(count: shape.reduce(1, *)) }
    }

    /// Buffer `index`, for writing.
    subscript(index: Int) -> UnsafeMutableBufferPointer<Scalar> { buffers[index].pointer }
}

/// An optimizer's state as named tensors, ready for a file: what ``Optimizer/saveState()``
/// returns and ``Optimizer/loadState(_:)`` takes.
///
/// ``tensors`` holds, for each parameter key `k` (its index, or the name given):
/// - `k.step`: how many steps updated that parameter, as a rank-0 tensor (exact up to 2²⁴ steps
///   in `Float`, 2⁵³ in `Double`, as PyTorch's float step tensors);
/// - `k.<name>` for each of the optimizer's ``Optimizer/stateNames``, of the parameter's shape:
///   `k.momentum_buffer` (SGD with momentum), `k.exp_avg` and `k.exp_avg_sq` (Adam, AdamW, with
///   `k.max_exp_avg_sq` for AMSGrad), `k.square_avg` (RMSProp, with `k.momentum_buffer` and
///   `k.grad_avg` when used).
public struct OptimizerState<Scalar: TensorScalar>: Sendable, Equatable {
    /// How many times ``Optimizer/step()`` ran.
    public var stepCount: Int
    /// The learning rate at the time of saving.
    public var learningRate: Scalar
    /// The state tensors by name (see the type's description).
    public var tensors: [String: Tensor<Scalar>]

    public init(stepCount: Int, learningRate: Scalar, tensors: [String: Tensor<Scalar>]) {
        self.stepCount = stepCount
        self.learningRate = learningRate
        self.tensors = tensors
    }
}

/// What did not match when restoring an optimizer's state: every missing, unexpected, wrongly
/// shaped and invalid entry at once. Nothing was changed.
public struct OptimizerStateError: Error, Equatable, CustomStringConvertible {
    /// Names the optimizer has but the state does not.
    public var missing: [String]
    /// Names the state has but the optimizer does not.
    public var unexpected: [String]
    /// Names both have, with different shapes.
    public var mismatched: [Mismatch]
    /// Values that cannot be: a step count that is negative or not a whole number, a negative
    /// learning rate.
    public var invalid: [String]

    public struct Mismatch: Equatable, Sendable {
        public var name: String
        public var expected: [Int]
        public var found: [Int]
    }

    var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty && invalid.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
        if !mismatched.isEmpty {
            parts.append(
                "wrong shapes "
                    + mismatched.map { "\($0.name) (\($0.found), expected \($0.expected))" }
                    .joined(separator: ", "))
        }
        if !invalid.isEmpty { parts.append("invalid " + invalid.joined(separator: ", ")) }
        return "optimizer state does not match: " + parts.joined(separator: "; ")
    }
}

extension Optimizer {
    /// A copy of the state: the step counts, the learning rate and every state tensor (see
    /// ``OptimizerState``). The copy shares no memory with the optimizer, so later steps do not
    /// change it and it does not make them copy.
    public final func saveState() -> OptimizerState<Scalar> {
        var tensors: [String: Tensor<Scalar>] = [:]
        for (key, state) in zip(parameterKeys, states) {
            tensors["\(key).step"] = Tensor(Scalar(state.step))
            for (name, buffer) in zip(stateNames, state.buffers) {
                tensors["\(key).\(name)"] = buffer.tensor(shape: state.shape)
            }
        }
        return OptimizerState(stepCount: stepCount, learningRate: learningRate, tensors: tensors)
    }

    /// Restores a state saved by ``saveState()`` (from an optimizer of the same kind over
    /// parameters of the same shapes), copying it into the existing buffers. The step after it
    /// equals, bit for bit, the step the saving optimizer would have taken (given the same
    /// parameter values and gradients: the state does not hold the parameters).
    ///
    /// - Throws: ``OptimizerStateError`` listing every missing, unexpected, wrongly shaped and
    ///   invalid entry; then nothing is changed.
    public final func loadState(_ state: OptimizerState<Scalar>) throws(OptimizerStateError) {
        var expected: [String: [Int]] = [:]
        for (key, parameterState) in zip(parameterKeys, states) {
            expected["\(key).step"] = []
            for name in stateNames { expected["\(key).\(name)"] = parameterState.shape }
        }
        var error = OptimizerStateError(
            missing: expected.keys.filter { state.tensors[$0] == nil }.sorted(),
            unexpected: state.tensors.keys.filter { expected[$0] == nil }.sorted(),
            mismatched: expected.compactMap { name, shape in
                guard let found = state.tensors[name]?.shape, found != shape else { return nil }
                return .init(name: name, expected: shape, found: found)
            }.sorted { $0.name < $1.name },
            invalid: [])
        if state.stepCount < 0 { error.invalid.append("stepCount \(state.stepCount)") }
        if !(state.learningRate >= 0 && state.learningRate.isFinite) {
            error.invalid.append("learningRate \(state.learningRate)")
        }
        for key in parameterKeys {
            guard let step = state.tensors["\(key).step"], step.shape == [] else { continue }
            if Self.wholeStepCount(step.scalar) == nil { error.invalid.append("\(key).step \(step.scalar)") }
        }
        guard error.isEmpty else { throw error }
        for (key, parameterState) in zip(parameterKeys, states) {
            parameterState.step = Self.wholeStepCount(state.tensors["\(key).step"]!.scalar)!
            for (name, buffer) in zip(stateNames, parameterState.buffers) {
                buffer.assign(state.tensors["\(key).\(name)"]!)
            }
        }
        stepCount = state.stepCount
        learningRate = state.learningRate
    }

    /// `value` as a step count, if it is a whole number ≥ 0 that an `Int` holds.
    private static func wholeStepCount(_ value: Scalar) -> Int? {
        guard value >= 0, let count = Int(exactly: value) else { return nil }
        return count
    }
}
