import Foundation
import Testing

@testable import Nabla

// MARK: - Update rules by hand

/// PyTorch's published update rules (the algorithm boxes of `torch.optim`'s documentation),
/// written out in scalar arithmetic, element by element: the references the optimizers are
/// checked against. They return the parameter after each step.
enum HandRules {
    /// `torch.optim.SGD`.
    static func sgd(
        _ p0: [Double], _ gradients: [[Double]], lr γ: Double, momentum μ: Double = 0,
        dampening τ: Double = 0, weightDecay λ: Double = 0, nesterov: Bool = false
    ) -> [[Double]] {
        var θ = p0, b = [Double](repeating: 0, count: p0.count), trajectory: [[Double]] = []
        for (index, g) in gradients.enumerated() {
            let t = index + 1
            for i in θ.indices {
                var gt = g[i]
                if λ != 0 { gt = gt + λ * θ[i] }
                if μ != 0 {
                    if t > 1 { b[i] = μ * b[i] + (1 - τ) * gt } else { b[i] = gt }
                    if nesterov { gt = gt + μ * b[i] } else { gt = b[i] }
                }
                θ[i] = θ[i] - γ * gt
            }
            trajectory.append(θ)
        }
        return trajectory
    }

    /// `torch.optim.Adam`, or `torch.optim.AdamW` when `decoupled`.
    static func adam(
        _ p0: [Double], _ gradients: [[Double]], lr γ: Double = 1e-3, beta1 β1: Double = 0.9,
        beta2 β2: Double = 0.999, epsilon ε: Double = 1e-8, weightDecay λ: Double = 0,
        amsgrad: Bool = false, decoupled: Bool = false
    ) -> [[Double]] {
        var θ = p0, trajectory: [[Double]] = []
        var m = [Double](repeating: 0, count: p0.count), v = m, vMax = m
        for (index, g) in gradients.enumerated() {
            let t = Double(index + 1)
            for i in θ.indices {
                var gt = g[i]
                if decoupled { θ[i] = θ[i] - γ * λ * θ[i] } else if λ != 0 { gt = gt + λ * θ[i] }
                m[i] = β1 * m[i] + (1 - β1) * gt
                v[i] = β2 * v[i] + (1 - β2) * gt * gt
                let mHat = m[i] / (1 - Foundation.pow(β1, t))
                let vHat: Double
                if amsgrad {
                    vMax[i] = Swift.max(vMax[i], v[i])
                    vHat = vMax[i] / (1 - Foundation.pow(β2, t))
                } else {
                    vHat = v[i] / (1 - Foundation.pow(β2, t))
                }
                θ[i] = θ[i] - γ * mHat / (vHat.squareRoot() + ε)
            }
            trajectory.append(θ)
        }
        return trajectory
    }

    /// `torch.optim.RMSprop`.
    static func rmsProp(
        _ p0: [Double], _ gradients: [[Double]], lr γ: Double = 1e-2, alpha α: Double = 0.99,
        epsilon ε: Double = 1e-8, weightDecay λ: Double = 0, momentum μ: Double = 0, centered: Bool = false
    ) -> [[Double]] {
        var θ = p0, trajectory: [[Double]] = []
        var v = [Double](repeating: 0, count: p0.count), gAverage = v, b = v
        for g in gradients {
            for i in θ.indices {
                var gt = g[i]
                if λ != 0 { gt = gt + λ * θ[i] }
                v[i] = α * v[i] + (1 - α) * gt * gt
                var ṽ = v[i]
                if centered {
                    gAverage[i] = gAverage[i] * α + (1 - α) * gt
                    ṽ = ṽ - gAverage[i] * gAverage[i]
                }
                if μ > 0 {
                    b[i] = μ * b[i] + gt / (ṽ.squareRoot() + ε)
                    θ[i] = θ[i] - γ * b[i]
                } else {
                    θ[i] = θ[i] - γ * gt / (ṽ.squareRoot() + ε)
                }
            }
            trajectory.append(θ)
        }
        return trajectory
    }
}

/// A parameter of four elements, one of them tiny (where ε's place shows), and three gradients.
enum OptimizerFixture {
    static let p0: [Double] = [0.5, -1.5, 2.0, 1e-3]
    static let gradients: [[Double]] = [
        [0.1, -0.2, 0.3, 1e-6],
        [-0.4, 0.5, 0.05, -2e-6],
        [0.25, -0.05, -0.6, 1e-6],
    ]
}

/// One optimizer configuration: made in `Double` and `Float`, with its hand reference.
struct OptimizerCase: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable ([Parameter<Double>]) -> Optimizer<Double>
    let makeFloat: @Sendable ([Parameter<Float>]) -> Optimizer<Float>
    let hand: @Sendable ([Double], [[Double]]) -> [[Double]]

    var testDescription: String { name }

    static let all: [OptimizerCase] = [
        .init(name: "SGD, PyTorch defaults", make: { SGD($0) }, makeFloat: { SGD($0) }) {
            HandRules.sgd($0, $1, lr: 1e-3)
        },
        .init(name: "SGD, weight decay 0.1", make: { SGD($0, learningRate: 0.1, weightDecay: 0.1) },
              makeFloat: { SGD($0, learningRate: 0.1, weightDecay: 0.1) }) {
            HandRules.sgd($0, $1, lr: 0.1, weightDecay: 0.1)
        },
        .init(name: "SGD, momentum 0.9", make: { SGD($0, learningRate: 0.1, momentum: 0.9) },
              makeFloat: { SGD($0, learningRate: 0.1, momentum: 0.9) }) {
            HandRules.sgd($0, $1, lr: 0.1, momentum: 0.9)
        },
        .init(name: "SGD, Nesterov 0.9", make: { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) },
              makeFloat: { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) }) {
            HandRules.sgd($0, $1, lr: 0.1, momentum: 0.9, nesterov: true)
        },
        .init(name: "SGD, momentum 0.9, dampening 0.5, weight decay 0.1",
              make: { SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1) },
              makeFloat: { SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1) }) {
            HandRules.sgd($0, $1, lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1)
        },
        .init(name: "SGD, Nesterov 0.8, weight decay 0.05",
              make: { SGD($0, learningRate: 0.2, momentum: 0.8, weightDecay: 0.05, nesterov: true) },
              makeFloat: { SGD($0, learningRate: 0.2, momentum: 0.8, weightDecay: 0.05, nesterov: true) }) {
            HandRules.sgd($0, $1, lr: 0.2, momentum: 0.8, weightDecay: 0.05, nesterov: true)
        },
        .init(name: "Adam, PyTorch defaults", make: { Adam($0) }, makeFloat: { Adam($0) }) {
            HandRules.adam($0, $1)
        },
        .init(name: "Adam, lr 0.01, betas (0.8, 0.99), ε 1e-6, weight decay 0.1",
              make: { Adam($0, learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1) },
              makeFloat: { Adam($0, learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1) }) {
            HandRules.adam($0, $1, lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1)
        },
        // β₂ = 0.5 lets v fall at step 3 for some elements, so the maximum matters.
        .init(name: "Adam, AMSGrad, beta2 0.5", make: { Adam($0, learningRate: 0.01, beta2: 0.5, amsgrad: true) },
              makeFloat: { Adam($0, learningRate: 0.01, beta2: 0.5, amsgrad: true) }) {
            HandRules.adam($0, $1, lr: 0.01, beta2: 0.5, amsgrad: true)
        },
        .init(name: "AdamW, PyTorch defaults", make: { AdamW($0) }, makeFloat: { AdamW($0) }) {
            HandRules.adam($0, $1, weightDecay: 1e-2, decoupled: true)
        },
        .init(name: "AdamW, lr 0.05, weight decay 0.5, AMSGrad",
              make: { AdamW($0, learningRate: 0.05, beta2: 0.5, weightDecay: 0.5, amsgrad: true) },
              makeFloat: { AdamW($0, learningRate: 0.05, beta2: 0.5, weightDecay: 0.5, amsgrad: true) }) {
            HandRules.adam($0, $1, lr: 0.05, beta2: 0.5, weightDecay: 0.5, amsgrad: true, decoupled: true)
        },
        .init(name: "RMSProp, PyTorch defaults", make: { RMSProp($0) }, makeFloat: { RMSProp($0) }) {
            HandRules.rmsProp($0, $1)
        },
        .init(name: "RMSProp, momentum 0.9", make: { RMSProp($0, momentum: 0.9) },
              makeFloat: { RMSProp($0, momentum: 0.9) }) {
            HandRules.rmsProp($0, $1, momentum: 0.9)
        },
        .init(name: "RMSProp, centered, weight decay 0.1", make: { RMSProp($0, weightDecay: 0.1, centered: true) },
              makeFloat: { RMSProp($0, weightDecay: 0.1, centered: true) }) {
            HandRules.rmsProp($0, $1, weightDecay: 0.1, centered: true)
        },
        .init(name: "RMSProp, lr 0.05, alpha 0.9, centered, momentum 0.5, weight decay 0.1",
              make: { RMSProp($0, learningRate: 0.05, alpha: 0.9, weightDecay: 0.1, momentum: 0.5, centered: true) },
              makeFloat: { RMSProp($0, learningRate: 0.05, alpha: 0.9, weightDecay: 0.1, momentum: 0.5, centered: true) }) {
            HandRules.rmsProp($0, $1, lr: 0.05, alpha: 0.9, weightDecay: 0.1, momentum: 0.5, centered: true)
        },
    ]
}

/// Sets each gradient in turn on `parameter` and steps; the value after each step.
func trajectory<Scalar>(_ optimizer: Optimizer<Scalar>, _ parameter: Parameter<Scalar>, _ gradients: [[Scalar]]) -> [[Scalar]] {
    gradients.map { gradient in
        parameter.gradient = Tensor(gradient)
        optimizer.step()
        return parameter.value.scalars
    }
}

/// Two parameters of different shapes, and the gradients of step `k` (0-based): the second
/// parameter has none at step 1, so the two step counts part.
enum TwoParameters {
    static func make<Scalar: TensorScalar>() -> [Parameter<Scalar>] {
        [Parameter(name: "w", value: Tensor(OptimizerFixture.p0.map { Scalar($0) })),
         Parameter(name: "b", value: Tensor(shape: [2, 1], scalars: [0.3, -0.7]))]
    }

    static func setGradients(_ parameters: [Parameter<Double>], step k: Int) {
        parameters[0].gradient = Tensor(OptimizerFixture.gradients[k % 3].map { $0 * Double(1 + k / 3) })
        parameters[1].gradient = k == 1 ? nil : Tensor(shape: [2, 1], scalars: [0.2 * Double(k + 1), -0.1])
    }
}

@Suite struct OptimizerRuleTests {
    /// The first three steps against the published rule, computed by hand.
    @Test(arguments: OptimizerCase.all)
    func firstThreeStepsByHand(_ c: OptimizerCase) {
        let parameter = Parameter(name: "w", value: Tensor(OptimizerFixture.p0))
        let optimizer = c.make([parameter])
        let actual = trajectory(optimizer, parameter, OptimizerFixture.gradients)
        let expected = c.hand(OptimizerFixture.p0, OptimizerFixture.gradients)
        for (step, (a, e)) in zip(actual, expected).enumerated() {
            for i in a.indices {
                // Tight on the value and on the displacement, so even ε's place shows.
                #expect(Swift.abs(a[i] - e[i]) <= 1e-15 + 1e-13 * Swift.abs(e[i]), "step \(step + 1) element \(i): \(a[i]) vs \(e[i])")
                let (moved, expectedMove) = (a[i] - OptimizerFixture.p0[i], e[i] - OptimizerFixture.p0[i])
                #expect(Swift.abs(moved - expectedMove) <= 1e-10 * Swift.abs(expectedMove) + 1e-16, "step \(step + 1) element \(i)")
            }
        }
        #expect(optimizer.stepCount == 3)
    }

    /// In `Float`, the same steps to float precision.
    @Test(arguments: OptimizerCase.all)
    func floatFollowsTheRule(_ c: OptimizerCase) {
        let parameter = Parameter(name: "w", value: Tensor(OptimizerFixture.p0.map { Float($0) }))
        let optimizer = c.makeFloat([parameter])
        let actual = trajectory(optimizer, parameter, OptimizerFixture.gradients.map { $0.map { Float($0) } })
        let expected = c.hand(OptimizerFixture.p0, OptimizerFixture.gradients)
        for (a, e) in zip(actual, expected) {
            for i in a.indices {
                #expect(Swift.abs(Double(a[i]) - e[i]) <= 1e-6 + 1e-5 * Swift.abs(e[i]), "\(a) vs \(e)")
            }
        }
    }

    /// A constant gradient of 1 on a parameter of 1, worked out with pencil and paper.
    @Test func constantGradientByHand() {
        func run(_ make: ([Parameter<Double>]) -> Optimizer<Double>) -> [Double] {
            let parameter = Parameter(name: "w", value: Tensor([1.0]))
            return trajectory(make([parameter]), parameter, [[1], [1], [1]]).map { $0[0] }
        }
        func expectSteps(_ actual: [Double], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
            for (a, e) in zip(actual, expected) {
                #expect(Swift.abs(a - e) <= 1e-15, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
            }
        }
        // p ← p − 0.001
        expectSteps(run { SGD($0) }, [0.999, 0.998, 0.997])
        // b = 1, 1.9, 2.71; p ← p − 0.1·b
        expectSteps(run { SGD($0, learningRate: 0.1, momentum: 0.9) }, [0.9, 0.71, 0.439])
        // b as above; p ← p − 0.1·(1 + 0.9·b) = p − 0.19, − 0.271, − 0.3439
        expectSteps(run { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) }, [0.81, 0.539, 0.1951])
        // m̂ = v̂ = 1 at every step: p ← p − 0.001 / (1 + 1e-8)
        let adamStep = 0.001 / (1 + 1e-8)
        expectSteps(run { Adam($0) }, [1 - adamStep, 1 - 2 * adamStep, 1 - 3 * adamStep])
        // p ← p·(1 − 0.001·0.01), then the Adam step.
        let w1 = 1 * (1 - 1e-5) - adamStep, w2 = w1 * (1 - 1e-5) - adamStep, w3 = w2 * (1 - 1e-5) - adamStep
        expectSteps(run { AdamW($0) }, [w1, w2, w3])
        // s = 0.01, 0.0199, 0.029701; p ← p − 0.01 / (√s + 1e-8)
        let r1 = 1 - 0.01 / (0.1 + 1e-8)
        let r2 = r1 - 0.01 / (0.0199.squareRoot() + 1e-8)
        let r3 = r2 - 0.01 / (0.029701.squareRoot() + 1e-8)
        expectSteps(run { RMSProp($0) }, [r1, r2, r3])
        // With ε inside the root (a common slip) the first RMSProp step would differ by ~5e-8.
        #expect(Swift.abs(r1 - (1 - 0.01 / (0.01 + 1e-8).squareRoot())) > 1e-8)
    }

    /// A parameter without a gradient is skipped: unchanged, and its own step count (Adam's
    /// bias correction) does not advance.
    @Test func parameterWithoutGradientIsSkipped() {
        let (a, b) = (Parameter(name: "a", value: Tensor(OptimizerFixture.p0)), Parameter(name: "b", value: Tensor(OptimizerFixture.p0)))
        let optimizer = Adam([a, b])
        let g = OptimizerFixture.gradients
        a.gradient = Tensor(g[0]); b.gradient = Tensor(g[0])
        optimizer.step()
        let bAfterFirst = b.value
        a.gradient = Tensor(g[1]); b.gradient = nil
        optimizer.step()
        #expect(b.value == bAfterFirst)
        a.gradient = Tensor(g[2]); b.gradient = Tensor(g[2])
        optimizer.step()
        // `b` took two steps (t = 1, 2) with gradients 0 and 2.
        let expectedB = HandRules.adam(OptimizerFixture.p0, [g[0], g[2]])[1]
        for (actual, expected) in zip(b.value.scalars, expectedB) {
            #expect(Swift.abs(actual - expected) <= 1e-15 + 1e-13 * Swift.abs(expected))
        }
        let state = optimizer.saveState()
        #expect(state.tensors["0.step"]!.scalar == 3 && state.tensors["1.step"]!.scalar == 2)
        #expect(state.stepCount == 3)
    }

    /// `zeroGradients()` clears every gradient; a step then changes nothing.
    @Test func zeroGradientsClears() {
        let parameters: [Parameter<Double>] = TwoParameters.make()
        let optimizer = SGD(parameters, learningRate: 0.1, momentum: 0.9)
        TwoParameters.setGradients(parameters, step: 0)
        optimizer.zeroGradients()
        #expect(parameters.allSatisfy { $0.gradient == nil })
        let before = parameters.map(\.value)
        optimizer.step()
        #expect(parameters.map(\.value) == before)
    }

    /// The learning rate can change between steps (as a schedule sets it).
    @Test func learningRateCanChange() {
        let parameter = Parameter(name: "w", value: Tensor([1.0]))
        let optimizer = SGD([parameter], learningRate: 0.1)
        parameter.gradient = Tensor([1])
        optimizer.step()
        optimizer.learningRate = 0.01
        optimizer.step()
        #expect(Swift.abs(parameter.value.scalar - 0.89) <= 1e-15)
    }
}

// MARK: - Saved state

@Suite struct OptimizerStateTests {
    /// Save after two steps, restore into a fresh optimizer over copies of the parameters: the
    /// next two steps equal the uninterrupted run bit for bit, and so does the state.
    @Test(arguments: OptimizerCase.all)
    func restoreContinuesBitForBit(_ c: OptimizerCase) throws {
        let original: [Parameter<Double>] = TwoParameters.make()
        let optimizer = c.make(original)
        for k in 0..<2 {
            TwoParameters.setGradients(original, step: k)
            optimizer.step()
        }
        let saved = optimizer.saveState()
        let frozen = saved.tensors.mapValues { Tensor(shape: $0.shape, scalars: $0.scalars) }
        let savedValues = original.map(\.value.scalars)
        for k in 2..<4 {
            TwoParameters.setGradients(original, step: k)
            optimizer.step()
        }
        // The saved state shares no memory with the optimizer.
        #expect(saved.tensors == frozen)
        #expect(saved.stepCount == 2)

        let copies = zip(original, savedValues).map { Parameter(name: $0.name, value: Tensor(shape: $0.value.shape, scalars: $1)) }
        let restored = c.make(copies)
        try restored.loadState(saved)
        #expect(restored.saveState() == saved)
        for k in 2..<4 {
            TwoParameters.setGradients(copies, step: k)
            restored.step()
        }
        for (a, b) in zip(copies, original) { #expect(a.value == b.value, "\(a.value) vs \(b.value)") }
        #expect(restored.saveState() == optimizer.saveState())

        // Rewinding the original optimizer replays the same steps too.
        try optimizer.loadState(saved)
        for (parameter, values) in zip(original, savedValues) {
            parameter.value = Tensor(shape: parameter.value.shape, scalars: values)
        }
        for k in 2..<4 {
            TwoParameters.setGradients(original, step: k)
            optimizer.step()
        }
        for (a, b) in zip(copies, original) { #expect(a.value == b.value) }
    }

    /// Each optimizer names its state as PyTorch does, under the parameter's index or given name.
    @Test func stateNames() {
        func names(_ optimizer: Optimizer<Double>) -> [String] { optimizer.saveState().tensors.keys.sorted() }
        let p = { [Parameter<Double>(name: "w", value: Tensor([1, 2]))] }
        #expect(names(SGD(p())) == ["0.step"])
        #expect(names(SGD(p(), momentum: 0.9)) == ["0.momentum_buffer", "0.step"])
        #expect(names(Adam(p())) == ["0.exp_avg", "0.exp_avg_sq", "0.step"])
        #expect(names(AdamW(p(), amsgrad: true)) == ["0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "0.step"])
        #expect(names(RMSProp(p())) == ["0.square_avg", "0.step"])
        #expect(names(RMSProp(p(), momentum: 0.5, centered: true)) == ["0.grad_avg", "0.momentum_buffer", "0.square_avg", "0.step"])
        #expect(names(Adam(p(), names: ["dense.weight"])) == ["dense.weight.exp_avg", "dense.weight.exp_avg_sq", "dense.weight.step"])
        let state = Adam(p()).saveState()
        #expect(state.tensors["0.exp_avg"]!.shape == [2] && state.tensors["0.step"]!.shape == [])
    }

    /// A state that does not fit throws one error listing everything, and changes nothing.
    @Test func mismatchedStateThrowsAndChangesNothing() {
        let parameters: [Parameter<Double>] = TwoParameters.make()
        let optimizer = Adam(parameters)
        TwoParameters.setGradients(parameters, step: 0)
        optimizer.step()
        let before = optimizer.saveState()
        var state = before
        state.tensors["0.exp_avg"] = nil
        state.tensors["2.exp_avg"] = .zeros(shape: [3])
        state.tensors["1.exp_avg_sq"] = .zeros(shape: [2])
        state.tensors["0.step"] = Tensor(1.5)
        state.tensors["1.step"] = Tensor(-1)
        state.stepCount = -1
        do {
            try optimizer.loadState(state)
            Issue.record("loadState accepted a mismatched state")
        } catch {
            #expect(error.missing == ["0.exp_avg"])
            #expect(error.unexpected == ["2.exp_avg"])
            #expect(error.mismatched == [.init(name: "1.exp_avg_sq", expected: [2, 1], found: [2])])
            #expect(error.invalid == ["stepCount -1", "0.step 1.5", "1.step -1.0"])
            #expect(error.description.contains("missing 0.exp_avg; unexpected 2.exp_avg; wrong shapes 1.exp_avg_sq ([2], expected [2, 1])"))
        }
        #expect(optimizer.saveState() == before)
    }
}

// MARK: - No allocation

@Suite struct OptimizerInPlaceTests {
    /// Every step writes the parameter where it is and keeps each state buffer where it was
    /// allocated; so do clipping and restoring a state.
    ///
    /// What this test cannot see: a heap allocation made and freed within one step (a temporary
    /// tensor or array, a boxed closure context). It checks where the long-lived memory lives,
    /// not every `malloc`: the step code is written so that no such temporary exists (the
    /// kernels take only buffer pointers and scalars), and this test guards against the costly
    /// regressions, a parameter or a state buffer copied or reallocated at each step.
    @Test(arguments: OptimizerCase.all)
    func stepsUpdateInPlace(_ c: OptimizerCase) throws {
        let parameters: [Parameter<Double>] = TwoParameters.make()
        let optimizer = c.make(parameters)
        TwoParameters.setGradients(parameters, step: 0)
        func parameterAddresses() -> [UnsafeRawPointer] {
            parameters.map { $0.value.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }
        }
        func gradientAddresses() -> [UnsafeRawPointer] {
            parameters.map { $0.gradient!.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }
        }
        func stateAddresses() -> [UnsafeRawPointer] {
            optimizer.states.flatMap { $0.buffers.map { UnsafeRawPointer($0.pointer.baseAddress!) } }
        }
        let (parametersBefore, gradientsBefore, statesBefore) = (parameterAddresses(), gradientAddresses(), stateAddresses())
        let valuesBefore = parameters.map(\.value.scalars)
        for step in 0..<12 {
            optimizer.step()
            switch step {
            case 3: optimizer.clipGradients(maxNorm: 0.01)  // scales the gradients in place
            case 5: try optimizer.loadState(optimizer.saveState())  // copies into the same buffers
            case 7: _ = parameters[0].variable  // a graph-mode variable, dropped before the step
            default: break
            }
            #expect(parameterAddresses() == parametersBefore, "step \(step)")
            #expect(gradientAddresses() == gradientsBefore, "step \(step)")
            #expect(stateAddresses() == statesBefore, "step \(step)")
        }
        #expect(parameters.map(\.value.scalars) != valuesBefore)
    }

    /// A copy of the value held by the caller is not overwritten: the next step copies the
    /// parameter once (copy-on-write) and works in place again after that.
    @Test func heldValueIsCopiedOnce() {
        let parameter = Parameter(name: "w", value: Tensor(OptimizerFixture.p0))
        let optimizer = Adam([parameter])
        parameter.gradient = Tensor(OptimizerFixture.gradients[0])
        let held = parameter.value
        let heldAddress = held.withUnsafeBufferPointer { $0.baseAddress! }
        optimizer.step()
        #expect(held.scalars == OptimizerFixture.p0)
        let address = parameter.value.withUnsafeBufferPointer { $0.baseAddress! }
        #expect(address != heldAddress)
        optimizer.step()
        #expect(parameter.value.withUnsafeBufferPointer { $0.baseAddress! } == address)
    }
}

// MARK: - Training a layer

@Suite struct TrainingLoopTests {
    /// A Dense layer fit by SGD with momentum on a linear target: the manual path (manual loss
    /// gradient, manual backward) and the graph path (graph loss, autodiff backward) follow the
    /// same trajectory, and the loss falls.
    @Test func denseFitsALine() {
        var generator = SeededGenerator(seed: 3)
        let manual = Dense<Double>(inputSize: 3, outputSize: 1, using: &generator)
        generator = SeededGenerator(seed: 3)
        let graph = Dense<Double>(inputSize: 3, outputSize: 1, using: &generator)
        graph.useAutodiff = true
        let x: Tensor<Double> = randomTensor([8, 3], seed: 4)
        let y = matmul(x, Tensor(shape: [3, 1], scalars: [0.5, -1, 2])) + 0.25
        let loss = MeanSquaredErrorLoss<Double>()
        let (manualOptimizer, graphOptimizer) = (
            SGD(manual.parameters, learningRate: 0.1, momentum: 0.9),
            SGD(graph.parameters, learningRate: 0.1, momentum: 0.9))
        var first = 0.0, last = 0.0
        for step in 0..<100 {
            let (value, gradient) = loss.valueAndGradient(manual.forward(x), target: y)
            manual.backward(gradient)
            manualOptimizer.step()
            manualOptimizer.zeroGradients()

            let output = DOps.variable(graph.forward(x), requiresGradient: true)
            let tape = GradientTape<Double>()
            let graphValue = tape.record { loss(output, target: y) }
            graph.backward(tape.gradient(of: graphValue, withRespectTo: [output])[0].value)
            graphOptimizer.step()
            graphOptimizer.zeroGradients()

            #expect(Swift.abs(value - graphValue.value.scalar) <= 1e-10 * Swift.max(value, 1e-12))
            if step == 0 { first = value }
            last = value
        }
        #expect(last < first / 100, "loss \(first) → \(last)")
        for (a, b) in zip(manual.parameters, graph.parameters) {
            #expect(normwiseRelativeError(a.value, b.value) <= 1e-10)
        }
    }
}

// MARK: - Misuse

@Suite struct OptimizerMisuseTests {
    @Test func gradientShapeDiffers() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let parameter = Parameter(name: "w", value: Tensor<Double>([1, 2, 3]))
            let optimizer = SGD([parameter])
            parameter.gradient = .zeros(shape: [2])
            optimizer.step()
        }
        #expect(standardError(result).contains("SGD: parameter 0 (w): gradient [2] and value [3]: shapes differ"))
    }

    @Test func nesterovNeedsMomentum() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = SGD([Parameter(name: "w", value: Tensor<Double>([1]))], nesterov: true)
        }
        #expect(standardError(result).contains(
            "SGD: Nesterov momentum needs momentum > 0 and zero dampening (momentum 0.0, dampening 0.0)"))
    }

    @Test func parameterListedTwice() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let parameter = Parameter(name: "w", value: Tensor<Float>([1, 2, 3]))
            _ = Adam([parameter, parameter])
        }
        #expect(standardError(result).contains(
            "Adam: parameter 1 (w [3]) is listed twice: it would be updated twice per step"))
    }

    @Test func negativeLearningRate() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let optimizer = RMSProp([Parameter(name: "w", value: Tensor<Double>([1]))])
            optimizer.learningRate = -0.1
        }
        #expect(standardError(result).contains("RMSProp: learning rate -0.1 must be finite and ≥ 0"))
    }

    @Test func betaOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = AdamW([Parameter(name: "w", value: Tensor<Double>([1]))], beta2: 1)
        }
        #expect(standardError(result).contains("AdamW: beta2 1.0 must be in [0, 1)"))
    }
}
