import Testing

@testable import Nabla

/// A gradient call that nothing connects stops with a message; it never returns zeros silently.
@Suite struct TapeConnectionTests {

    /// (a) A penalty built from a first-order gradient, but outside `tape.record`.
    @Test func targetBuiltOutsideRecord() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
            let r = Ops.constant(Tensor([3, 4]))
            let tape = GradientTape<Double>(persistent: true)
            let y = tape.record { Ops.sum(Ops.pow(x, 3)) }
            let first = tape.gradient(of: y, withRespectTo: [x], createGraph: true)[0]
            _ = tape.gradient(of: Ops.sum(r * first), withRespectTo: [x])
        }
        let message = standardError(result)
        #expect(message.contains(
            "gradient: target [] was not computed by an op recorded on this tape; compute it "
                + "inside tape.record { } from a watched variable"))
    }

    /// (b) An inner gradient taken outside the outer tape's `record`: the outer tape never saw
    /// the backward pass, so the penalty does not depend on `x` through it.
    @Test func innerGradientTakenOutsideOuterRecord() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
            let outer = GradientTape<Double>()
            let inner = GradientTape<Double>()
            let y2 = inner.record { Ops.sum(Ops.pow(x, 3)) }
            let g2 = inner.gradient(of: y2, withRespectTo: [x])[0]
            let penalty = outer.record { Ops.sum(Ops.square(g2)) }
            _ = outer.gradient(of: penalty, withRespectTo: [x])
        }
        let message = standardError(result)
        #expect(message.contains("gradient: target [] was not computed by an op recorded on this tape"))
    }

    /// (b') As (b), with the penalty also touching `x` on the outer tape: the target is recorded,
    /// but the gradient path is missing, so `x` would get only part of its gradient... except
    /// that here the only path to `x` runs through `g2`, so `x` is unconnected.
    @Test func innerGradientOutsideOuterRecordLeavesSourceUnconnected() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
            let w = Ops.variable(Tensor([0.5]), requiresGradient: true)
            let outer = GradientTape<Double>()
            let inner = GradientTape<Double>()
            let y2 = inner.record { Ops.sum(Ops.pow(x, 3)) }
            let g2 = inner.gradient(of: y2, withRespectTo: [x])[0]
            let penalty = outer.record { Ops.sum(Ops.square(g2) * w) }
            _ = outer.gradient(of: penalty, withRespectTo: [w, x])
        }
        let message = standardError(result)
        #expect(message.contains("gradient: source 1 [2] is not connected to the target"))
    }

    /// (c) A source that no tape tracks: a fresh variable wrapping the same values.
    @Test func untrackedSource() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let w = Tensor<Double>([1, 2])
            let tracked = Ops.variable(w, requiresGradient: true)
            let t3 = GradientTape<Double>()
            let y3 = t3.record { Ops.sum(Ops.square(tracked)) }
            _ = t3.gradient(of: y3, withRespectTo: [Ops.variable(w)])
        }
        let message = standardError(result)
        #expect(message.contains(
            "gradient: source 0 [2] is not tracked by this tape; watch it before recording "
                + "(tape.watch(_:)) or create it with requiresGradient: true"))
    }

    /// (d) A target computed before any tape recorded.
    @Test func targetNeverRecorded() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
            let t4 = GradientTape<Double>()
            _ = t4.gradient(of: Ops.sum(x * x), withRespectTo: [x])
        }
        let message = standardError(result)
        #expect(message.contains("gradient: target [] was not computed by an op recorded on this tape"))
    }

    /// A tracked source that the target does not depend on.
    @Test func unconnectedSourceIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
            let unused = Ops.variable(Tensor([5, 6, 7]), requiresGradient: true)
            let tape = GradientTape<Double>()
            let y = tape.record { Ops.sum(Ops.square(x)) }
            _ = tape.gradient(of: y, withRespectTo: [x, unused])
        }
        let message = standardError(result)
        #expect(message.contains(
            "gradient: source 1 [3] is not connected to the target: no recorded op leads from it "
                + "to the target"))
        #expect(message.contains("unconnected: .zero"))
    }

    /// With `unconnected: .zero`, an unconnected source gets zeros, as a caller who means it asks.
    @Test func unconnectedSourceGetsZerosWhenAsked() {
        let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
        let unused = Ops.variable(Tensor([5, 6, 7]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { Ops.sum(Ops.square(x)) }
        let g = tape.gradient(of: y, withRespectTo: [x, unused], unconnected: .zero)
        #expect(g[0].value.scalars == [2, 4])
        #expect(g[1].value == .zeros(shape: [3]))
    }

    /// A target that is itself a source has the seed as its gradient: connected, no error.
    @Test func targetThatIsASourceIsConnected() {
        let x = Ops.variable(Tensor([3]), requiresGradient: true)
        let tape = GradientTape<Double>()
        #expect(tape.gradient(of: x, withRespectTo: [x]).map(\.value.scalars) == [[1]])
    }

    /// `reset()` forgets every op and watch, so a persistent tape reused across steps stays small
    /// and frees what it saved.
    @Test func resetFreesAPersistentTape() {
        let tape = GradientTape<Double>(persistent: true)
        weak var saved: Variable<Double>?
        for step in 0..<5 {
            let w = Ops.variable(Tensor([Double(step), 1]))
            tape.watch(w)
            let y: Variable<Double> = tape.record {
                let h = Ops.exp(w)
                saved = h
                return Ops.sum(h * h)
            }
            let g = tape.gradient(of: y, withRespectTo: [w])[0]
            expectClose(g.value, 2 * exp(2 * w.value), rtol: 1e-14)
            #expect(tape.recordedOperationCount == 3)
            tape.reset()
            #expect(tape.recordedOperationCount == 0)
            #expect(saved == nil)
        }
    }

    /// After `reset()`, a variable watched before it is no longer tracked.
    @Test func resetForgetsWatches() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let w = Ops.variable(Tensor([1, 2]))
            let tape = GradientTape<Double>(persistent: true)
            tape.watch(w)
            tape.reset()
            let y = tape.record { Ops.sum(Ops.square(w)) }
            _ = tape.gradient(of: y, withRespectTo: [w])
        }
        let message = standardError(result)
        #expect(message.contains("gradient: target [] was not computed by an op recorded on this tape"))
    }
}

/// What an exit test's child process printed to standard error.
func standardError(_ result: ExitTest.Result?) -> String {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
}

extension TapeConnectionTests {
    /// With `unconnected: .zero`, a constant target (one no op produced) gives zeros too: the
    /// second derivative of a linear function, as `GradientCheck.checkSecondOrder` takes it.
    @Test func constantTargetGivesZerosWhenAsked() {
        let x = Ops.variable(Tensor([1, 2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let g = tape.gradient(of: Ops.constant(Tensor(3)), withRespectTo: [x], unconnected: .zero)
        #expect(g[0].value == .zeros(shape: [2]))
    }
}
