/// A learning rate that changes with the step: a value type, asked for the rate at a step.
///
/// A "step" is whatever the caller counts, from 0: the optimizer's ``Optimizer/stepCount`` for a
/// per-iteration schedule, or the epoch number for a per-epoch one, as PyTorch schedulers count
/// their `scheduler.step()` calls. Every length a schedule takes (a decay interval, a period, a
/// warm-up) is in the same unit.
///
/// ```swift
/// let schedule = LinearWarmup(steps: 500, then: CosineAnnealing<Float>(initial: 3e-4, period: 9_500))
/// optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
/// optimizer.step()
/// ```
public protocol LearningRateSchedule<Scalar>: Sendable {
    associatedtype Scalar: TensorScalar
    /// The learning rate at `step` (≥ 0).
    func learningRate(atStep step: Int) -> Scalar
}


/// The same learning rate at every step: a base for ``LinearWarmup``.
public struct ConstantLearningRate<Scalar: TensorScalar>: LearningRateSchedule {
    public let value: Scalar

    public init(_ value: Scalar) { self.value = value }

    public func learningRate(atStep step: Int) -> Scalar {
        Misuse.checkStep("ConstantLearningRate", step)
        return value
    }
}

/// Step decay, as PyTorch's `StepLR`: the initial rate times `gamma` for every `interval`
/// steps completed, `initial · gamma^⌊step / interval⌋`.
public struct StepDecay<Scalar: TensorScalar>: LearningRateSchedule {
    public let initial: Scalar
    /// How many steps pass between decays, ≥ 1.
    public let interval: Int
    /// The factor of each decay (PyTorch's default 0.1).
    public let gamma: Scalar

    public init(initial: Scalar, interval: Int, gamma: Scalar = 0.1) {
        Misuse.check(interval >= 1, "StepDecay", "interval \(interval) must be ≥ 1")
        self.initial = initial
        self.interval = interval
        self.gamma = gamma
    }

    public func learningRate(atStep step: Int) -> Scalar {
        Misuse.checkStep("StepDecay", step)
        return initial * Scalar.pow(gamma, step / interval)
    }
}

/// Cosine annealing, as PyTorch's `CosineAnnealingLR` (its closed form): from `initial` at
/// step 0 down to `minimum` at step `period`,
/// `minimum + (initial − minimum) · (1 + cos(π · step / period)) / 2`.
///
/// Past `period` the cosine goes on, back up to `initial` at `2 · period`, as PyTorch's does;
/// make `period` the length of the run to end at `minimum`.
public struct CosineAnnealing<Scalar: TensorScalar>: LearningRateSchedule {
    public let initial: Scalar
    /// The number of steps from `initial` to `minimum` (PyTorch's `T_max`), ≥ 1.
    public let period: Int
    public let minimum: Scalar

    public init(initial: Scalar, period: Int, minimum: Scalar = 0) {
        Misuse.check(period >= 1, "CosineAnnealing", "period \(period) must be ≥ 1")
        self.initial = initial
        self.period = period
        self.minimum = minimum
    }

    public func learningRate(atStep step: Int) -> Scalar {
        Misuse.checkStep("CosineAnnealing", step)
        let phase = Scalar.pi * Scalar(step) / Scalar(period)
        return minimum + (initial - minimum) * (1 + Scalar.cos(phase)) / 2
    }
}

/// A linear warm-up in front of another schedule: for the first `steps` steps the rate rises
/// linearly from `startFactor` times the base schedule's first rate to that rate, as PyTorch's
/// `LinearLR(start_factor, end_factor: 1, total_iters: steps)`; then the base schedule runs from
/// its own step 0, as PyTorch's `SequentialLR(milestones: [steps])` does:
///
/// - `step < steps`: `base(0) · (startFactor + (1 − startFactor) · step / steps)`;
/// - `step ≥ steps`: `base(step − steps)`.
public struct LinearWarmup<Base: LearningRateSchedule>: LearningRateSchedule {
    public typealias Scalar = Base.Scalar
    /// The length of the warm-up, ≥ 1.
    public let steps: Int
    /// The fraction of the base rate to start from, in `[0, 1]` (PyTorch's default 1/3).
    public let startFactor: Scalar
    public let base: Base

    public init(steps: Int, startFactor: Scalar = 1.0 / 3, then base: Base) {
        Misuse.check(steps >= 1, "LinearWarmup", "steps \(steps) must be ≥ 1")
        Misuse.check(
            startFactor >= 0 && startFactor <= 1, "LinearWarmup",
            "start factor \(startFactor) must be in [0, 1]")
        self.steps = steps
        self.startFactor = startFactor
        self.base = base
    }

    public func learningRate(atStep step: Int) -> Scalar {
        Misuse.checkStep("LinearWarmup", step)
        guard step < steps else { return base.learningRate(atStep: step - steps) }
        let factor = startFactor + (1 - startFactor) * Scalar(step) / Scalar(steps)
        return base.learningRate(atStep: 0) * factor
    }
}
