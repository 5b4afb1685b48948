/// The WGAN-GP gradient penalty (Gulrajani et al. 2017, "Improved Training of Wasserstein
/// GANs"): `GP = mean over samples of (‖∇ₓ D(x̂)‖₂ − 1)²` at interpolates
/// `x̂ = ε·x + (1 − ε)·x̃` between real samples `x` and generated ones `x̃`, with `ε` uniform in
/// [0, 1) per sample. The critic's loss is `D(x̃) − D(x) + λ·GP` (λ = 10 in the paper).
///
/// The penalty is a function of the critic's *input gradient*, so its gradient with respect to
/// the weights is a second derivative. It is built with nested tapes:
///
/// ```swift
/// let tape = GradientTape<Float>()
/// let loss = tape.record {
///     let gp = GradientPenalty.penalty(of: critic, real: real, fake: fake, using: &generator)
///     return wasserstein + 10 * gp.penalty       // wasserstein also built inside record
/// }
/// let gradients = tape.gradient(of: loss, withRespectTo: critic.parameters.map(\.variable),
///                               unconnected: .zero)
/// ```
///
/// or, with the Wasserstein terms on the layers' own backward (manual or autodiff), by adding
/// `λ·∇θ GP` to each parameter's gradient:
///
/// ```swift
/// critic.backward(...)   // D(fake) − D(real), after critic.forward
/// let gp = GradientPenalty.accumulateGradients(of: critic, real: real, fake: fake, weight: 10,
///                                              using: &generator)
/// optimizer.step()
/// ```
///
/// Inside `penalty(of:at:)`, an inner tape watches `x̂`, records
/// the critic's graph-mode forward (``Layer/callAsFunction(_:)``) and takes `∇ₓ̂ D`; the caller's
/// tape, recording around it, records that backward pass too, so the penalty is differentiable
/// with respect to the weights. The norm is taken per sample over every non-batch axis, as
/// `sqrt(sum(g²) + stabilizer)`, so that its gradient stays finite where `g = 0`.
///
/// The critic must score each sample on its own (no BatchNorm: the per-sample input gradient
/// is the gradient of the sum of the scores only then); its output is `[N]` or `[N, 1]`.
///
/// See <doc:TrainingWithAGradientPenalty> for the pattern and the mistakes it prevents.
public enum GradientPenalty {
    /// A gradient penalty and what it measured.
    public struct Result<Scalar: TensorScalar> {
        /// `GP`, a rank-0 variable recorded on the tapes that were recording: differentiate it
        /// (or `λ·GP` plus the Wasserstein terms) with respect to the critic's parameters.
        public let penalty: Variable<Scalar>
        /// `‖∇ₓ D(x̂)‖₂` of each sample (with the stabilizer inside the square root), `[N]`.
        public let gradientNorms: Tensor<Scalar>
        /// The points `x̂` the critic was differentiated at.
        public let interpolates: Tensor<Scalar>

        /// The penalty's value.
        public var value: Scalar { penalty.value.scalar }
        /// The mean of ``gradientNorms``: it approaches 1 as the penalty does its job.
        public var meanGradientNorm: Scalar { gradientNorms.mean().scalar }
    }

    /// The interpolates `x̂ = ε·real + (1 − ε)·fake`, with one `ε` uniform in [0, 1) per sample
    /// (along the first axis), drawn from `generator`; also returns the `ε`s, `[N]`.
    public static func interpolates<Scalar: TensorScalar, G: RandomNumberGenerator>(
        real: Tensor<Scalar>, fake: Tensor<Scalar>, using generator: inout G
    ) -> (interpolates: Tensor<Scalar>, epsilon: Tensor<Scalar>) {
        Misuse.check(
            real.shape == fake.shape && real.rank >= 1 && real.shape[0] > 0, "GradientPenalty",
            "real \(real.shape) and fake \(fake.shape): expected one shape [N, …] with N > 0")
        let epsilon = Tensor<Scalar>.randomUniform(shape: [real.shape[0]], using: &generator)
        let perSample = epsilon.reshaped(to: [real.shape[0]] + Array(repeating: 1, count: real.rank - 1))
        return (perSample * real + (1 - perSample) * fake, epsilon)
    }

    // MARK: - The penalty as a variable on the caller's tape

    /// The penalty of `critic` at `interpolates` (`[N, …]`), recorded on the tape(s) recording
    /// around this call. Call it inside `tape.record { }`: outside, it stops with a message,
    /// since a penalty built there would be a constant that never reaches the weights.
    ///
    /// - Parameters:
    ///   - critic: Scores each sample on its own: maps `[N, …]` to `[N]` or `[N, 1]`, in
    ///     ``TensorOperations`` so that the tapes record it.
    ///   - interpolates: `[N, …]`, the points `x̂` to differentiate the critic at, `N > 0`.
    ///   - stabilizer: Added to `sum(g²)` inside each square root.
    public static func penalty<Scalar: TensorScalar>(
        of critic: (Variable<Scalar>) -> Variable<Scalar>, at interpolates: Tensor<Scalar>,
        stabilizer: Scalar = 1e-12
    ) -> Result<Scalar> {
        let op = "GradientPenalty"
        Misuse.check(
            interpolates.rank >= 2 && interpolates.shape[0] > 0, op,
            "interpolates \(interpolates.shape): expected [N, features…] with N > 0")
        Misuse.check(stabilizer >= 0 && stabilizer.isFinite, op, "stabilizer \(stabilizer) must be finite and ≥ 0")
        guard let callerTape = GraphContext.activeTapes.last, !GraphContext.isRecordingSuspended else {
            Misuse.fail(
                op,
                "no tape is recording: build the penalty inside tape.record { }, or it is a "
                    + "constant that never reaches the critic's weights")
        }
        let count = interpolates.shape[0]
        let x = TensorOperations.constant(interpolates)
        // The inner tape: ∇ₓ D. The caller's tape records the critic's forward and this
        // backward pass too (the weights are tracked by every tape), so the gradient below is
        // itself a differentiable function of the weights.
        let inner = GradientTape<Scalar>()
        inner.watch(x)
        let scores = inner.record { withNameScope("critic") { critic(x) } }
        Misuse.check(
            scores.shape.first == count && scores.value.scalarCount == count, op,
            "the critic's output \(scores.shape) for input \(interpolates.shape): expected one "
                + "score per sample, [\(count)] or [\(count), 1]")
        let inputGradient = inner.gradient(
            of: scores, withRespectTo: [x], seed: .ones(shape: scores.shape))[0]
        let (norms, penalty) = withNameScope("gradient penalty") {
            let squares = TensorOperations.sum(
                TensorOperations.square(inputGradient), alongAxes: Array(1..<interpolates.rank))
            let norms = TensorOperations.sqrt(squares + stabilizer)
            return (norms, TensorOperations.mean(TensorOperations.square(norms - 1)))
        }
        Misuse.check(
            callerTape.tracks(penalty), op,
            "the penalty was not recorded on the recording tape: nothing in the critic's input "
                + "gradient depends on a tracked parameter (Parameter.variable), so it could not "
                + "train the critic")
        return Result(penalty: penalty, gradientNorms: norms.value, interpolates: interpolates)
    }

    /// The penalty of the graph-mode forward of `critic` (``Layer/callAsFunction(_:)``) at
    /// `interpolates`, recorded on the tape(s) recording around this call.
    public static func penalty<Scalar: TensorScalar>(
        of critic: Layer<Scalar>, at interpolates: Tensor<Scalar>, stabilizer: Scalar = 1e-12
    ) -> Result<Scalar> {
        penalty(of: { critic($0) }, at: interpolates, stabilizer: stabilizer)
    }

    /// Draws the interpolates between `real` and `fake` from `generator`, then returns the
    /// penalty of `critic` there, recorded on the tape(s) recording around this call.
    public static func penalty<Scalar: TensorScalar, G: RandomNumberGenerator>(
        of critic: Layer<Scalar>, real: Tensor<Scalar>, fake: Tensor<Scalar>,
        stabilizer: Scalar = 1e-12, using generator: inout G
    ) -> Result<Scalar> {
        penalty(
            of: critic, at: interpolates(real: real, fake: fake, using: &generator).interpolates,
            stabilizer: stabilizer)
    }

    /// The penalty of `critic` at `interpolates`, on a tape of its own: its value and norms, for
    /// monitoring and checks.
    public static func evaluate<Scalar: TensorScalar>(
        _ critic: (Variable<Scalar>) -> Variable<Scalar>, at interpolates: Tensor<Scalar>,
        stabilizer: Scalar = 1e-12
    ) -> Result<Scalar> {
        GradientTape<Scalar>().record { penalty(of: critic, at: interpolates, stabilizer: stabilizer) }
    }

    /// The penalty of `critic`'s graph-mode forward at `interpolates`, on a tape of its own.
    public static func evaluate<Scalar: TensorScalar>(
        _ critic: Layer<Scalar>, at interpolates: Tensor<Scalar>, stabilizer: Scalar = 1e-12
    ) -> Result<Scalar> {
        evaluate({ critic($0) }, at: interpolates, stabilizer: stabilizer)
    }

    // MARK: - Adding λ·∇θ GP to the parameters' gradients

    /// Computes the penalty of `critic` at `interpolates` on a tape of its own and **adds**
    /// `weight · ∂GP/∂θ` to the ``Parameter/gradient`` of each of `parameters` (accumulating,
    /// as a layer's backward does), so it joins the Wasserstein terms' gradients before the
    /// optimizer steps.
    ///
    /// Parameters the input gradient does not depend on get zeros: the last layer's bias, and
    /// biases feeding piecewise-linear activations (LeakyReLU's derivative is constant almost
    /// everywhere). That is the mathematics, not a broken graph; the penalty itself was checked
    /// to be recorded.
    ///
    /// - Returns: The penalty, and the gradients added (`weight · ∂GP/∂θ`, one per parameter).
    @discardableResult
    public static func accumulateGradients<Scalar: TensorScalar>(
        of critic: (Variable<Scalar>) -> Variable<Scalar>, parameters: [Parameter<Scalar>],
        at interpolates: Tensor<Scalar>, weight: Scalar = 10, stabilizer: Scalar = 1e-12
    ) -> (penalty: Result<Scalar>, gradients: [Tensor<Scalar>]) {
        Misuse.check(weight >= 0 && weight.isFinite, "GradientPenalty", "weight \(weight) must be finite and ≥ 0")
        let tape = GradientTape<Scalar>()
        let (result, loss) = tape.record {
            let result = penalty(of: critic, at: interpolates, stabilizer: stabilizer)
            return (result, result.penalty * weight)
        }
        let gradients = tape.gradient(
            of: loss, withRespectTo: parameters.map(\.variable), unconnected: .zero
        ).map(\.value)
        for (parameter, gradient) in zip(parameters, gradients) { parameter.accumulate(gradient) }
        return (result, gradients)
    }

    /// Adds `weight · ∂GP/∂θ` to the gradient of each of `critic`'s parameters, the penalty
    /// taken at `interpolates` through the critic's graph-mode forward.
    @discardableResult
    public static func accumulateGradients<Scalar: TensorScalar>(
        of critic: Layer<Scalar>, at interpolates: Tensor<Scalar>, weight: Scalar = 10,
        stabilizer: Scalar = 1e-12
    ) -> (penalty: Result<Scalar>, gradients: [Tensor<Scalar>]) {
        accumulateGradients(
            of: { critic($0) }, parameters: critic.parameters, at: interpolates, weight: weight,
            stabilizer: stabilizer)
    }

    /// Draws the interpolates between `real` and `fake` from `generator` and adds
    /// `weight · ∂GP/∂θ` to the gradient of each of `critic`'s parameters.
    @discardableResult
    public static func accumulateGradients<Scalar: TensorScalar, G: RandomNumberGenerator>(
        of critic: Layer<Scalar>, real: Tensor<Scalar>, fake: Tensor<Scalar>, weight: Scalar = 10,
        stabilizer: Scalar = 1e-12, using generator: inout G
    ) -> (penalty: Result<Scalar>, gradients: [Tensor<Scalar>]) {
        accumulateGradients(
            of: critic, at: interpolates(real: real, fake: fake, using: &generator).interpolates,
            weight: weight, stabilizer: stabilizer)
    }
}
