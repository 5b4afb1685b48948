import Foundation
import Synchronization
import Testing

@testable import Nabla

typealias Ops = TensorOperations<Double>

@Suite struct GradientTapeTests {
    @Test func expGradientMatchesClosedForm() {
        let x = Ops.variable(Tensor([0.5, -1, 2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { Ops.sum(Ops.exp(x)) }
        let g = tape.gradient(of: y, withRespectTo: [x])[0]
        expectClose(g.value, exp(x.value), rtol: 1e-15)
    }

    @Test func seedIsTheUpstreamGradient() {
        let x = Ops.variable(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
        let tape = GradientTape<Double>()
        tape.watch(x)
        let y = tape.record { Ops.square(x) }
        let seed = Tensor<Double>(shape: [2, 2], scalars: [0.5, -1, 2, 0])
        let g = tape.gradient(of: y, withRespectTo: [x], seed: seed)[0]
        #expect(g.value == seed * x.value * 2)
    }

    @Test func persistentTapeAnswersTwice() {
        let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
        let unused = Ops.variable(Tensor([5, 6, 7]), requiresGradient: true)
        let tape = GradientTape<Double>(persistent: true)
        let (y, z) = tape.record { (Ops.sum(Ops.square(x)), Ops.sum(Ops.exp(x))) }
        #expect(tape.gradient(of: y, withRespectTo: [x])[0].value.scalars == [2, 4])
        let second = tape.gradient(of: z, withRespectTo: [x, unused], unconnected: .zero)
        #expect(second[0].value == exp(x.value))
        #expect(second[1].value == .zeros(shape: [3]))
    }

    @Test func watchTracksConstantsAndOnlyTrackedInputsRecord() {
        let tape = GradientTape<Double>()
        let a = Ops.constant(Tensor([1, 2])), b = Ops.constant(Tensor([3, 4]))
        _ = Ops.exp(a)  // outside any tape
        #expect(tape.recordedOperationCount == 0)
        _ = tape.record { Ops.exp(a) + b }  // nothing tracked: nothing recorded
        #expect(tape.recordedOperationCount == 0)
        tape.watch(a)
        let y = tape.record { Ops.sum(Ops.exp(a) * b) }
        #expect(tape.recordedOperationCount == 3)
        #expect(tape.gradient(of: y, withRespectTo: [a])[0].value == exp(a.value) * b.value)
    }

    /// A rule is told which inputs need a gradient, so a network's first layer skips its
    /// input-gradient GEMM.
    @Test func rulesAreToldWhichInputsNeedGradients() {
        let input = Ops.constant(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        let weight = Ops.variable(.ones(shape: [3, 2]), requiresGradient: true)
        let seen = Mutex<[[Bool]]>([])
        let tape = GradientTape<Double>()
        let y = tape.record {
            Ops.sum(Ops.custom("observedMatmul", inputs: [input, weight], isBackwardDifferentiable: true,
                       forward: { matmul($0[0], $0[1]) }) { g, needs in
                seen.withLock { $0.append(needs) }
                return [needs[0] ? Ops.matmul(g, weight, transposeRHS: true) : nil,
                        needs[1] ? Ops.matmul(input, g, transposeLHS: true) : nil]
            })
        }
        let g = tape.gradient(of: y, withRespectTo: [weight])
        #expect(seen.withLock { $0 } == [[false, true]])
        #expect(g[0].value == matmul(input.value, .ones(shape: [2, 2]), transposeLHS: true))
    }

    @Test func noRecordingScopeAndStopGradient() {
        let x = Ops.variable(Tensor([2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record {
            let constantPart = withoutRecording { Ops.square(x) }
            return Ops.sum(Ops.square(x) + constantPart + Ops.stopGradient(Ops.exp(x)) * x)
        }
        // d/dx [x² + c + e²·x] = 2x + e² with the stopped factor held constant.
        expectClose(tape.gradient(of: y, withRespectTo: [x])[0].value, Tensor([4 + exp(2.0)]), rtol: 1e-14)
    }

    /// Tapes on different tasks do not see each other.
    @Test func concurrentTapesDoNotInterfere() async {
        let results = await withTaskGroup(of: (Int, [Double]).self) { group in
            for task in 0..<8 {
                group.addTask {
                    let x = Ops.variable(Tensor([Double(task), 1]), requiresGradient: true)
                    let tape = GradientTape<Double>()
                    let y = tape.record { Ops.sum(Ops.scale(Ops.square(x), by: Double(task))) }
                    return (task, tape.gradient(of: y, withRespectTo: [x])[0].value.scalars)
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (task, gradient) in results {
            #expect(gradient == [2 * Double(task) * Double(task), 2 * Double(task)])
        }
    }

    @Test func graphvizGroupsOpsByScope() {
        let x = Ops.variable(.ones(shape: [2, 3]), requiresGradient: true)
        let w = Ops.variable(.ones(shape: [3, 4]), requiresGradient: true)
        let tape = GradientTape<Double>(persistent: true)
        _ = tape.record {
            withNameScope("dense1") { Ops.relu(Ops.matmul(x, w)) }
        }
        let dot = tape.graphviz()
        #expect(dot.hasPrefix("digraph Tape {"))
        #expect(dot.contains("subgraph \"cluster_dense1\""))
        #expect(dot.contains("matmul\\n[2, 4]") && dot.contains("relu\\n[2, 4]"))
        #expect(dot.contains("op0 -> op1;"))
    }
}

/// Higher-order gradients, checked against values derived by hand.
@Suite struct HigherOrderTests {
    /// f(W) = vᵀ tanh(W x). Its Hessian-vector product along U is
    /// (v ⊙ −2h(1 − h²) ⊙ (U x)) xᵀ with h = tanh(W x).
    @Test func hessianVectorProductOfSmallMLP() {
        let w: Tensor<Double> = randomTensor([3, 4], seed: 31)
        let x: Tensor<Double> = randomTensor([4, 1], seed: 32)
        let v: Tensor<Double> = randomTensor([3, 1], seed: 33)
        let u: Tensor<Double> = randomTensor([3, 4], seed: 34)
        let weights = Ops.variable(w, requiresGradient: true)
        let outer = GradientTape<Double>()
        let directional = outer.record {
            let inner = GradientTape<Double>()
            let f = inner.record {
                Ops.sum(Ops.constant(v) * Ops.tanh(Ops.matmul(weights, Ops.constant(x))))
            }
            let gradient = inner.gradient(of: f, withRespectTo: [weights])[0]
            return Ops.sum(gradient * Ops.constant(u))
        }
        let hvp = outer.gradient(of: directional, withRespectTo: [weights])[0].value
        let h = tanh(matmul(w, x))
        let expected = matmul(v * (-2 * h * (1 - h * h)) * matmul(u, x), x, transposeRHS: true)
        expectClose(hvp, expected, rtol: 1e-12, atol: 1e-14)
    }

    /// WGAN-GP with a linear critic D(x) = x·w: every input gradient is w, so the penalty
    /// mean((‖∂D/∂xᵢ‖ − 1)²) = (‖w‖ − 1)² and its gradient is 2(‖w‖ − 1)·w/‖w‖.
    @Test func gradientPenaltyOfLinearCritic() {
        let wValue: Tensor<Double> = randomTensor([5, 1], seed: 41)
        let samples: Tensor<Double> = randomTensor([6, 5], seed: 42)
        let w = Ops.variable(wValue, requiresGradient: true)
        let outer = GradientTape<Double>()
        let penalty = outer.record {
            let x = Ops.constant(samples)
            let inner = GradientTape<Double>()
            inner.watch(x)
            let critic = inner.record { Ops.matmul(x, w) }
            let inputGradient = inner.gradient(
                of: critic, withRespectTo: [x], seed: .ones(shape: critic.shape))[0]
            let norms = Ops.sqrt(Ops.sum(Ops.square(inputGradient), alongAxes: [1]))
            return Ops.mean(Ops.square(norms - 1))
        }
        let gradient = outer.gradient(of: penalty, withRespectTo: [w])[0].value
        let norm = wValue.scalars.map { $0 * $0 }.reduce(0, +).squareRoot()
        expectClose(penalty.value, Tensor((norm - 1) * (norm - 1)), rtol: 1e-13)
        expectClose(gradient, wValue * (2 * (norm - 1) / norm), rtol: 1e-12)
    }

    /// With createGraph, a persistent tape records its own backward pass and differentiates it.
    @Test func createGraphOnOnePersistentTape() {
        let x = Ops.variable(Tensor([1.5, -2]), requiresGradient: true)
        let tape = GradientTape<Double>(persistent: true)
        let y = tape.record { Ops.sum(Ops.pow(x, 3)) }
        let first = tape.gradient(of: y, withRespectTo: [x], createGraph: true)[0]
        expectClose(first.value, Tensor([6.75, 12]), rtol: 1e-14)
        let second = tape.gradient(of: tape.record { Ops.sum(first) }, withRespectTo: [x])[0]
        expectClose(second.value, Tensor([9, -12]), rtol: 1e-14)
    }

    @Test func differentiableCustomOpHasSecondDerivative() {
        // cube(x) = x³ with a rule written in differentiable ops: d²/dx² = 6x.
        let x = Ops.variable(Tensor([1.5, -2]), requiresGradient: true)
        let outer = GradientTape<Double>()
        let firstSum = outer.record {
            let inner = GradientTape<Double>()
            let y = inner.record {
                Ops.sum(Ops.custom("cube", inputs: [x], isBackwardDifferentiable: true,
                                   forward: { $0[0] * $0[0] * $0[0] }) { g, _ in [g * Ops.scale(Ops.square(x), by: 3)] })
            }
            return Ops.sum(inner.gradient(of: y, withRespectTo: [x])[0])
        }
        #expect(outer.gradient(of: firstSum, withRespectTo: [x])[0].value.scalars == [9, -12])
    }
}

/// Memory: once the gradient is taken and the user drops their handles, nothing stays alive.
@Suite struct TapeLeakTests {
    @Test func nonPersistentTapeFreesSavedTensorsAfterGradient() {
        weak var intermediate: Variable<Double>?
        let x = Ops.variable(Tensor([0.1, 0.2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y: Variable<Double> = tape.record {
            let h = Ops.exp(x)
            intermediate = h
            return Ops.sum(Ops.tanh(h) * h)
        }
        #expect(intermediate != nil)  // saved by the tape until the backward runs
        _ = tape.gradient(of: y, withRespectTo: [x])
        #expect(intermediate == nil)  // the tape is still alive, its saved tensors are not
        #expect(tape.recordedOperationCount == 0)
    }

    @Test func nestedTapesLeaveNoCycles() {
        weak var outerTape: GradientTape<Double>?
        weak var innerGradient: Variable<Double>?
        weak var intermediate: Variable<Double>?
        do {
            let x = Ops.variable(Tensor([0.3, -0.4]), requiresGradient: true)
            let outer = GradientTape<Double>()
            outerTape = outer
            let s = outer.record {
                let inner = GradientTape<Double>()
                let y = inner.record {
                    let h = Ops.sigmoid(x)
                    intermediate = h
                    return Ops.sum(h * h)
                }
                let g = inner.gradient(of: y, withRespectTo: [x])[0]
                innerGradient = g
                return Ops.sum(Ops.square(g))
            }
            _ = outer.gradient(of: s, withRespectTo: [x])
        }
        #expect(outerTape == nil)
        #expect(innerGradient == nil)
        #expect(intermediate == nil)
    }
}

/// Misuse of tapes stops with a message naming the problem.
@Suite struct TapeMisuseTests {
    @Test func nonPersistentTapeRefusesSecondGradient() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = TensorOperations<Double>.variable(Tensor([1]), requiresGradient: true)
            let tape = GradientTape<Double>()
            let y = tape.record { TensorOperations.sum(TensorOperations.exp(x)) }
            _ = tape.gradient(of: y, withRespectTo: [x])
            _ = tape.gradient(of: y, withRespectTo: [x])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("gradient: this tape is not persistent and has already computed a gradient"))
    }

    @Test func nonScalarTargetNeedsSeed() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = TensorOperations<Double>.variable(.ones(shape: [3, 4]), requiresGradient: true)
            let tape = GradientTape<Double>()
            let y = tape.record { TensorOperations.exp(x) }
            _ = tape.gradient(of: y, withRespectTo: [x])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("gradient: target [3, 4] is not a scalar; pass seed"))
    }

    @Test func seedShapeIsChecked() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = TensorOperations<Double>.variable(.ones(shape: [3, 4]), requiresGradient: true)
            let tape = GradientTape<Double>()
            let y = tape.record { TensorOperations.exp(x) }
            _ = tape.gradient(of: y, withRespectTo: [x], seed: .ones(shape: [4, 3]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("gradient: seed [4, 3] and target [3, 4]: shapes differ"))
    }

    /// A custom op whose rule is not differentiable refuses a second derivative.
    @Test func nonDifferentiableRuleRefusesSecondDerivative() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            typealias O = TensorOperations<Double>
            let x = O.variable(Tensor([1, 2]), requiresGradient: true)
            let outer = GradientTape<Double>()
            let s = outer.record {
                let inner = GradientTape<Double>()
                let y = inner.record {
                    O.sum(O.custom("handWrittenCube", inputs: [x], isBackwardDifferentiable: false,
                                   forward: { $0[0] * $0[0] * $0[0] }) { g, _ in
                        [O.constant(g.value * x.value * x.value * 3)]
                    })
                }
                return O.sum(inner.gradient(of: y, withRespectTo: [x])[0])
            }
            _ = outer.gradient(of: s, withRespectTo: [x])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("handWrittenCube: its backward rule is marked not differentiable"))
    }

    /// Anomaly mode names the op whose backward produced a non-finite value, and where it was made.
    @Test func anomalyModeNamesTheOp() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            typealias O = TensorOperations<Double>
            let x = O.variable(Tensor([0, 1]), requiresGradient: true)
            withAnomalyDetection {
                let tape = GradientTape<Double>()
                let y = tape.record { O.sum(O.log(x)) }
                _ = tape.gradient(of: y, withRespectTo: [x])
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("anomaly: the backward of log created at NablaTests/GradientTapeTests.swift:"))
    }

    /// A matrix product's gradient, which the fast backward otherwise defers to one GEMM per
    /// variable, is still checked in anomaly mode.
    @Test func anomalyModeChecksMatrixProducts() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            typealias O = TensorOperations<Double>
            let a = O.variable(Tensor(shape: [1, 2], scalars: [1, .infinity]), requiresGradient: true)
            let b = O.variable(Tensor(shape: [2, 1], scalars: [1, 2]), requiresGradient: true)
            withAnomalyDetection {
                let tape = GradientTape<Double>()
                let y = tape.record { O.sum(O.matmul(a, b)) }
                _ = tape.gradient(of: y, withRespectTo: [a, b])
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("anomaly: the backward of matmul"))
    }
}

/// Backward rules at the edges of their domains.
@Suite struct SafeEdgeTests {
    func gradient(_ x: Tensor<Double>, _ f: (Variable<Double>) -> Variable<Double>) -> [Double] {
        let v = Ops.variable(x, requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { Ops.sum(f(v)) }
        return tape.gradient(of: y, withRespectTo: [v])[0].value.scalars
    }

    @Test func sqrtGradientAtZeroIsZero() {
        #expect(gradient(Tensor([0, 4])) { Ops.sqrt($0) } == [0, 0.25])
    }

    @Test func euclideanNormAtZeroHasFiniteGradient() {
        #expect(gradient(Tensor([0, 0, 0])) { Ops.sqrt(Ops.sum(Ops.square($0))) } == [0, 0, 0])
    }

    @Test func reluGradientAtZeroIsZero() {
        #expect(gradient(Tensor([-1, 0, 2])) { Ops.relu($0) } == [0, 0, 1])
    }

    /// `select(x > 0, sqrt(x), 0)`: at x < 0 the sqrt branch is NaN but not taken, and no NaN
    /// reaches the gradient.
    @Test func untakenBranchLeaksNoNaN() {
        let x = Tensor<Double>([-1, 4])
        let mask = x.map { $0 > 0 ? 1 : 0 }
        let g = gradient(x) { Ops.select(mask, Ops.sqrt($0), Ops.constant(Tensor(0))) }
        #expect(g == [0, 0.25])
        let logGradient = gradient(x) { Ops.select(mask, Ops.log($0), Ops.constant(Tensor(0))) }
        #expect(logGradient == [0, 0.25])
    }
}
