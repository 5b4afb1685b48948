import Foundation
import Testing

@testable import Nabla

/// A random tensor with the seed of a test, in (−1, 1).
private func random(_ shape: [Int], _ seed: UInt64) -> Tensor<Double> { randomTensor(shape, seed: seed) }

/// `⟨a, b⟩`.
private func inner(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double { (a * b).sum().scalar }

// MARK: - Embedding

@Suite struct EmbeddingTests {
    func table(count: Int = 5, dimension: Int = 3, paddingIndex: Int? = nil) -> Embedding<Double> {
        var generator = SeededGenerator(seed: 4)
        return Embedding(count: count, dimension: dimension, paddingIndex: paddingIndex, using: &generator)
    }

    /// Each output row is the looked-up row; the table's gradient adds every output row's
    /// gradient into its row (index 1 three times), worked out by hand; no input gradient.
    @Test(arguments: [false, true])
    func backwardScatterAddsRepeatedIndices(autodiff: Bool) {
        let embedding = table()
        embedding.useAutodiff = autodiff
        let indices = Tensor<Double>(shape: [2, 3], scalars: [1, 3, 1, 4, 1, 0])
        let output = embedding.forward(indices)
        #expect(output.shape == [2, 3, 3])
        let rows = [1, 3, 1, 4, 1, 0]
        for (position, row) in rows.enumerated() {
            for column in 0..<3 {
                #expect(output[position / 3, position % 3, column] == embedding.weight.value[row, column])
            }
        }
        let upstream = random([2, 3, 3], 7)
        #expect(embedding.backward(upstream) == nil)
        let g = upstream.scalars
        func gradientRow(_ positions: [Int]) -> [Double] {
            (0..<3).map { column in positions.reduce(0) { $0 + g[$1 * 3 + column] } }
        }
        // Row 0 from position 5, row 1 from positions 0, 2 and 4, row 2 never, row 3 from 1, row 4 from 3.
        let byHand = Tensor(
            shape: [5, 3],
            scalars: gradientRow([5]) + gradientRow([0, 2, 4]) + gradientRow([]) + gradientRow([1]) + gradientRow([3]))
        expectClose(embedding.weight.gradient!, byHand, rtol: 1e-15, atol: 1e-15)
        // A second pass adds to the first.
        _ = embedding.forward(indices)
        embedding.backward(upstream)
        expectClose(embedding.weight.gradient!, byHand * 2, rtol: 1e-15, atol: 1e-15)
    }

    /// The padding row starts at zero and gets no gradient, even when looked up several times;
    /// its value is still looked up as it is (say, after loading weights).
    @Test(arguments: [false, true])
    func paddingIndexGetsNoGradient(autodiff: Bool) {
        let embedding = table(count: 4, dimension: 2, paddingIndex: 2)
        #expect(embedding.weight.value[2, 0] == 0 && embedding.weight.value[2, 1] == 0)
        var loaded = embedding.weight.value
        loaded[2, 0] = 7
        loaded[2, 1] = 8
        embedding.weight.value = loaded
        embedding.useAutodiff = autodiff
        let indices = Tensor<Double>(shape: [5], scalars: [2, 1, 2, 3, 1])
        let output = embedding.forward(indices)
        #expect(output[0, 0] == 7 && output[2, 1] == 8)
        let upstream = random([5, 2], 3)
        #expect(embedding.backward(upstream) == nil)
        let gradient = embedding.weight.gradient!
        #expect(gradient[2, 0] == 0 && gradient[2, 1] == 0)
        #expect(gradient[0, 0] == 0 && gradient[0, 1] == 0)
        #expect(abs(gradient[1, 0] - (upstream[1, 0] + upstream[4, 0])) < 1e-15)
        #expect(gradient[3, 1] == upstream[3, 1])
    }

    /// Both paths give the same output and table gradient for random indices.
    @Test func pathsAgree() {
        let embedding = table(count: 6, dimension: 4, paddingIndex: 0)
        var generator = SeededGenerator(seed: 8)
        let indices = Tensor<Double>(shape: [3, 4], scalars: (0..<12).map { _ in Double(Int.random(in: 0..<6, using: &generator)) })
        let upstream = random([3, 4, 4], 9)
        var results: [(Tensor<Double>, Tensor<Double>)] = []
        for autodiff in [false, true] {
            embedding.useAutodiff = autodiff
            embedding.zeroGradients()
            let output = embedding.forward(indices)
            embedding.backward(upstream)
            results.append((output, embedding.weight.gradient!))
        }
        #expect(results[0].0 == results[1].0)
        expectClose(results[0].1, results[1].1, rtol: 1e-15, atol: 1e-15)
    }

    /// The autodiff path records the lookup on its tape but does not watch the indices, and
    /// asking for an input gradient changes nothing.
    @Test func indicesAreNotDifferentiable() {
        let embedding = table()
        embedding.computesInputGradient = true
        #expect(!embedding.computesInputGradient)
        embedding.useAutodiff = true
        _ = embedding.forward(Tensor(shape: [2], scalars: [0, 4]))
        #expect((embedding.autodiffTape?.recordedOperationCount ?? 0) > 0)
        #expect(embedding.backward(random([2, 3], 1)) == nil)
        #expect(embedding.weight.gradient != nil)
    }

    /// PyTorch's name and initialization, `N(0, 1)`; a negative padding index counts from the end.
    @Test func namesInitializationAndDescription() {
        var generator = SeededGenerator(seed: 0)
        let embedding = Embedding<Double>(count: 1000, dimension: 16, paddingIndex: -1, using: &generator)
        #expect(embedding.namedParameters.map(\.name) == ["weight"])
        #expect(embedding.weight.value.shape == [1000, 16])
        #expect(embedding.paddingIndex == 999)
        #expect(embedding.description == "Embedding(count: 1000, dimension: 16, paddingIndex: 999)")
        let values = embedding.weight.value.scalars.dropLast(16)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.03)
        #expect(embedding.weight.value.scalars.suffix(16).allSatisfy { $0 == 0 })
        #expect(table().description == "Embedding(count: 5, dimension: 3)")
    }

    /// Token indices `[time, batch]` through an embedding, an LSTM and a dense head: both paths
    /// agree on every parameter gradient.
    @Test func embeddingFeedsAnLSTM() {
        var generator = SeededGenerator(seed: 2)
        let network = Sequential<Double>(
            Embedding(count: 7, dimension: 3, paddingIndex: 0, using: &generator),
            LSTM(inputSize: 3, hiddenSize: 4, returnsSequence: false, using: &generator),
            Dense(inputSize: 4, outputSize: 2, using: &generator))
        let tokens = Tensor<Double>(shape: [5, 2], scalars: [1, 2, 3, 0, 6, 0, 1, 1, 5, 4])
        let upstream = random([2, 2], 5)
        var gradients: [[Tensor<Double>]] = []
        for autodiff in [false, true] {
            network.useAutodiff = autodiff
            network.zeroGradients()
            _ = network.forward(tokens)
            #expect(network.backward(upstream) == nil)
            gradients.append(network.parameters.map { $0.gradient! })
        }
        for (manual, autodiff) in zip(gradients[0], gradients[1]) {
            expectClose(manual, autodiff, rtol: 1e-12, atol: 1e-14)
        }
        #expect(network.namedParameters.map(\.name) == [
            "0.weight", "1.weight_ih_l0", "1.weight_hh_l0", "1.bias_ih_l0", "1.bias_hh_l0", "2.weight", "2.bias",
        ])
    }

    @Test func indexOutOfRangeNamesTheIndexAndTableSize() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let embedding = Embedding<Float>(count: 10, dimension: 4, using: &generator)
            _ = embedding.forward(Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 10, 5]))
        }
        #expect(standardError(result).contains(
            "Embedding(count: 10, dimension: 4): input [2, 3]: index 10 at position 4 is out of range for a table of 10 rows"))
    }

    @Test func negativeIndexIsOutOfRangeOnTheAutodiffPath() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let embedding = Embedding<Double>(count: 3, dimension: 2, using: &generator)
            embedding.useAutodiff = true
            _ = embedding.forward(Tensor(shape: [2], scalars: [1, -1]))
        }
        #expect(standardError(result).contains("index -1 at position 1 is out of range for a table of 3 rows"))
    }

    @Test func fractionalIndexIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Embedding<Double>(count: 3, dimension: 2, using: &generator).forward(Tensor([0, 1.5]))
        }
        #expect(standardError(result).contains("Embedding(count: 3, dimension: 2): input [2]: index 1.5 at position 1 is not an integer"))
    }

    @Test func nanIndexIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Embedding<Float>(count: 3, dimension: 2, using: &generator).forward(Tensor([.nan]))
        }
        #expect(standardError(result).contains("input [1]: index nan at position 0 is not an integer"))
    }

    @Test func paddingIndexOutOfRangeIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Embedding<Double>(count: 3, dimension: 2, paddingIndex: 3, using: &generator)
        }
        #expect(standardError(result).contains("Embedding: count 3, dimension 2: padding index 3 must be in -3..<3"))
    }
}

// MARK: - LSTM and GRU

/// One recurrent layer of either kind behind one interface, for tests that run on both.
private struct AnyRecurrent {
    let layer: Layer<Double>
    let hiddenSize: Int
    /// The state tensors: `[h]` for a GRU, `[h, c]` for an LSTM.
    let forward: (Tensor<Double>, [Tensor<Double>]?) -> (output: Tensor<Double>, final: [Tensor<Double>])
    let backward: (Tensor<Double>, [Tensor<Double>]?) -> (input: Tensor<Double>?, initial: [Tensor<Double>])

    static func lstm(
        inputSize: Int = 2, hiddenSize: Int = 3, numLayers: Int = 1, bidirectional: Bool = false,
        batchFirst: Bool = false, returnsSequence: Bool = true
    ) -> AnyRecurrent {
        var generator = SeededGenerator(seed: 6)
        let lstm = LSTM<Double>(
            inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, batchFirst: batchFirst,
            bidirectional: bidirectional, returnsSequence: returnsSequence, using: &generator)
        return AnyRecurrent(
            layer: lstm, hiddenSize: hiddenSize,
            forward: { x, s in
                let result = lstm.forward(x, initialState: s.map { LSTMState(hidden: $0[0], cell: $0[1]) })
                return (result.output, [result.finalState.hidden, result.finalState.cell])
            },
            backward: { g, s in
                let result = lstm.backward(g, finalStateGradient: s.map { LSTMState(hidden: $0[0], cell: $0[1]) })
                return (result.input, [result.initialState.hidden, result.initialState.cell])
            })
    }

    static func gru(
        inputSize: Int = 2, hiddenSize: Int = 3, numLayers: Int = 1, bidirectional: Bool = false,
        batchFirst: Bool = false, returnsSequence: Bool = true
    ) -> AnyRecurrent {
        var generator = SeededGenerator(seed: 6)
        let gru = GRU<Double>(
            inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, batchFirst: batchFirst,
            bidirectional: bidirectional, returnsSequence: returnsSequence, using: &generator)
        return AnyRecurrent(
            layer: gru, hiddenSize: hiddenSize,
            forward: { x, s in
                let result = gru.forward(x, initialState: s?[0])
                return (result.output, [result.finalState])
            },
            backward: { g, s in
                let result = gru.backward(g, finalStateGradient: s?[0])
                return (result.input, [result.initialState])
            })
    }

    var stateCount: Int { layer is LSTM<Double> ? 2 : 1 }

    /// `[batch, hiddenSize]`, or `[numLayers·D, batch, hiddenSize]` for a stack or two directions.
    func stateShape(batch: Int) -> [Int] {
        let count = (layer as! RecurrentLayer<Double>).weights.count
        return count == 1 ? [batch, hiddenSize] : [count, batch, hiddenSize]
    }

    /// Every configuration the state tests run: both kinds, time-major sequences and batch-first
    /// last steps.
    static let configurations: [@Sendable () -> AnyRecurrent] = [
        { lstm() }, { lstm(batchFirst: true, returnsSequence: false) },
        { gru() }, { gru(batchFirst: true, returnsSequence: false) },
        { lstm(numLayers: 2, bidirectional: true) }, { gru(numLayers: 2, batchFirst: true, returnsSequence: false) },
        { gru(bidirectional: true, returnsSequence: false) },
    ]
}

@Suite struct RecurrentStateTests {
    /// The gradients of `L = ⟨output, g⟩ + Σ ⟨final state, its gradient⟩` with respect to the
    /// initial state, the input and the recurrent weights, against central differences of L, on
    /// both paths; and the same without a final-state gradient.
    @Test(arguments: AnyRecurrent.configurations.indices, [false, true])
    func initialStateGradientsMatchFiniteDifferences(_ index: Int, autodiff: Bool) {
        let recurrent = AnyRecurrent.configurations[index]()
        let layer = recurrent.layer
        layer.useAutodiff = autodiff
        let batchFirst = (layer as? LSTM<Double>)?.batchFirst ?? (layer as! GRU<Double>).batchFirst
        let input = random(batchFirst ? [2, 5, 2] : [5, 2, 2], 1)
        let initial = (0..<recurrent.stateCount).map { random(recurrent.stateShape(batch: 2), 10 + UInt64($0)) }
        let upstream = random(recurrent.forward(input, initial).output.shape, 2)
        let finalGradients = (0..<recurrent.stateCount).map { random(recurrent.stateShape(batch: 2), 20 + UInt64($0)) }

        for seeds in [finalGradients, nil] {
            func loss(_ x: Tensor<Double>, _ state: [Tensor<Double>]) -> Double {
                let (output, final) = recurrent.forward(x, state)
                return inner(output, upstream) + zip(final, seeds ?? []).map { inner($0, $1) }.reduce(0, +)
            }
            layer.zeroGradients()
            _ = recurrent.forward(input, initial)
            let analytic = recurrent.backward(upstream, seeds)
            let weightGradient = layer.parameters[1].gradient!
            for (k, gradient) in analytic.initial.enumerated() {
                let numeric = LayerGradientCheck.centralDifferences(of: initial[k], 1e-6) { moved in
                    var state = initial
                    state[k] = moved
                    return loss(input, state)
                }
                let error = LayerGradientCheck.relativeDifference(gradient, numeric)
                #expect(error < 1e-7, "\(layer) state \(k), final gradient \(seeds != nil): \(error)")
            }
            let numericInput = LayerGradientCheck.centralDifferences(of: input, 1e-6) { loss($0, initial) }
            #expect(LayerGradientCheck.relativeDifference(analytic.input!, numericInput) < 1e-7)
            let weight = layer.parameters[1]
            let original = weight.value
            let numericWeight = LayerGradientCheck.centralDifferences(of: original, 1e-6) { moved in
                weight.value = moved
                defer { weight.value = original }
                return loss(input, initial)
            }
            #expect(LayerGradientCheck.relativeDifference(weightGradient, numericWeight) < 1e-7)
        }
    }

    /// `forward(_:)` is `forward(_:initialState: nil)`; the final hidden state is the last
    /// output; the graph-mode forward with a state gives the same values, and its tape the same
    /// initial-state gradient as the manual backward.
    @Test(arguments: AnyRecurrent.configurations.indices)
    func statePathsAgree(_ index: Int) {
        let recurrent = AnyRecurrent.configurations[index]()
        let layer = recurrent.layer
        let batchFirst = (layer as? LSTM<Double>)?.batchFirst ?? (layer as! GRU<Double>).batchFirst
        let input = random(batchFirst ? [3, 6, 2] : [6, 3, 2], 1)
        let initial = (0..<recurrent.stateCount).map { random(recurrent.stateShape(batch: 3), 10 + UInt64($0)) }
        let (output, final) = recurrent.forward(input, nil)
        #expect(layer.forward(input) == output)
        let last = output.rank == 2 ? output : batchFirst ? output.slice(alongAxis: 1, 5..<6).squeezed(axes: [1])
            : output.slice(alongAxis: 0, 5..<6).squeezed(axes: [0])
        if final[0].rank == 2 { #expect(final[0] == last) }

        let upstream = random(output.shape, 4)
        _ = recurrent.forward(input, initial)
        let manual = recurrent.backward(upstream, nil)
        // The same through the graph-mode forward with state variables, on a tape of our own.
        let x = TensorOperations.variable(input)
        let states = initial.map { TensorOperations.variable($0, requiresGradient: true) }
        let tape = GradientTape<Double>()
        let (y, finalVariables): (Variable<Double>, [Variable<Double>]) = tape.record {
            if let lstm = layer as? LSTM<Double> {
                let result = lstm(x, initialState: LSTMState(hidden: states[0], cell: states[1]))
                return (result.output, [result.finalState.hidden, result.finalState.cell])
            }
            let result = (layer as! GRU<Double>)(x, initialState: states[0])
            return (result.output, [result.finalState])
        }
        let withState = recurrent.forward(input, initial)
        #expect(y.value.isClose(to: withState.output, rtol: 1e-14, atol: 1e-15))
        for (variable, tensor) in zip(finalVariables, withState.final) {
            #expect(variable.value.isClose(to: tensor, rtol: 1e-14, atol: 1e-15))
        }
        let graphGradients = tape.gradient(of: y, withRespectTo: states, seed: upstream)
        for (graph, manual) in zip(graphGradients, manual.initial) {
            expectClose(graph.value, manual, rtol: 1e-12, atol: 1e-14)
        }
    }

    /// `backward(_:finalStateGradient:)` after a plain `forward(_:)` differentiates the zero
    /// initial state, on both paths alike.
    @Test func zeroInitialStateHasAGradientOnBothPaths() {
        let recurrent = AnyRecurrent.lstm()
        let input = random([5, 2, 2], 1)
        var results: [[Tensor<Double>]] = []
        for autodiff in [false, true] {
            recurrent.layer.useAutodiff = autodiff
            let output = recurrent.layer.forward(input)
            let gradients = recurrent.backward(random(output.shape, 3), nil)
            results.append(gradients.initial + [gradients.input!])
        }
        for (manual, autodiff) in zip(results[0], results[1]) {
            expectClose(manual, autodiff, rtol: 1e-12, atol: 1e-14)
        }
        #expect(results[0][0].scalars.contains { $0 != 0 })
    }

    /// Batch-first is the time-major layer with its input and output transposed.
    @Test(arguments: [false, true])
    func batchFirstIsATranspose(gru: Bool) {
        let timeMajor = gru ? AnyRecurrent.gru() : AnyRecurrent.lstm()
        let batchFirst = gru ? AnyRecurrent.gru(batchFirst: true) : AnyRecurrent.lstm(batchFirst: true)
        let input = random([5, 3, 2], 1)
        let swapped = input.transposed(permutation: [1, 0, 2])
        let expected = timeMajor.layer.forward(input)
        #expect(batchFirst.layer.forward(swapped) == expected.transposed(permutation: [1, 0, 2]))
        let upstream = random(expected.shape, 2)
        let inputGradient = timeMajor.layer.backward(upstream)!
        let swappedGradient = batchFirst.layer.backward(upstream.transposed(permutation: [1, 0, 2]))!
        expectClose(swappedGradient, inputGradient.transposed(permutation: [1, 0, 2]), rtol: 1e-14, atol: 1e-15)
    }
}

// MARK: - PyTorch's equations by hand

@Suite struct RecurrentEquationTests {
    func σ(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }

    /// One LSTM step with H = 2, I = 1 and hand-chosen weights, against the equations worked out
    /// in scalar arithmetic with PyTorch's layout: rows i₀ i₁ f₀ f₁ g₀ g₁ o₀ o₁.
    @Test(arguments: [false, true])
    func lstmStep(autodiff: Bool) {
        let wih: [Double] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]
        let whh: [[Double]] = [[0.5, -0.1], [0.2, 0.3], [-0.4, 0.6], [0.1, 0.1], [0.9, -0.7], [-0.3, 0.2], [0.05, 0.4], [-0.6, -0.2]]
        let bih: [Double] = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]
        let bhh: [Double] = [-0.05, 0.1, -0.15, 0.2, -0.25, 0.3, -0.35, 0.4]
        let x = 0.7, h0: [Double] = [0.2, -0.4], c0: [Double] = [0.5, -0.3]
        func preactivation(_ row: Int) -> Double {
            wih[row] * x + bih[row] + whh[row][0] * h0[0] + whh[row][1] * h0[1] + bhh[row]
        }
        var h1: [Double] = [], c1: [Double] = []
        for j in 0..<2 {
            let i = σ(preactivation(j)), f = σ(preactivation(2 + j))
            let g = Foundation.tanh(preactivation(4 + j)), o = σ(preactivation(6 + j))
            c1.append(f * c0[j] + i * g)
            h1.append(o * Foundation.tanh(c1[j]))
        }

        var generator = SeededGenerator(seed: 0)
        let lstm = LSTM<Double>(inputSize: 1, hiddenSize: 2, using: &generator)
        lstm.weightIH.value = Tensor(shape: [8, 1], scalars: wih)
        lstm.weightHH.value = Tensor(shape: [8, 2], scalars: whh.flatMap { $0 })
        lstm.biasIH.value = Tensor(bih)
        lstm.biasHH.value = Tensor(bhh)
        lstm.useAutodiff = autodiff
        let (output, final) = lstm.forward(
            Tensor(shape: [1, 1, 1], scalars: [x]),
            initialState: LSTMState(hidden: Tensor(shape: [1, 2], scalars: h0), cell: Tensor(shape: [1, 2], scalars: c0)))
        expectClose(output, Tensor(shape: [1, 1, 2], scalars: h1), rtol: 1e-14, atol: 1e-15)
        expectClose(final.hidden, Tensor(shape: [1, 2], scalars: h1), rtol: 1e-14, atol: 1e-15)
        expectClose(final.cell, Tensor(shape: [1, 2], scalars: c1), rtol: 1e-14, atol: 1e-15)
    }

    /// One GRU step with H = 2, I = 1 and hand-chosen weights, against the equations worked out
    /// in scalar arithmetic with PyTorch's layout: rows r₀ r₁ z₀ z₁ n₀ n₁, and the reset gate
    /// scaling `W_hn h + b_hn`.
    @Test(arguments: [false, true])
    func gruStep(autodiff: Bool) {
        let wih: [Double] = [0.3, -0.6, 0.8, 0.2, -0.4, 0.5]
        let whh: [[Double]] = [[0.4, -0.2], [0.1, 0.7], [-0.5, 0.3], [0.6, -0.1], [0.2, 0.9], [-0.8, 0.4]]
        let bih: [Double] = [0.05, -0.1, 0.15, -0.2, 0.25, -0.3]
        let bhh: [Double] = [0.3, 0.2, -0.1, 0.4, -0.6, 0.7]
        let x = -0.9, h0: [Double] = [0.35, -0.25]
        func fromInput(_ row: Int) -> Double { wih[row] * x + bih[row] }
        func fromHidden(_ row: Int) -> Double { whh[row][0] * h0[0] + whh[row][1] * h0[1] + bhh[row] }
        var h1: [Double] = []
        for j in 0..<2 {
            let r = σ(fromInput(j) + fromHidden(j))
            let z = σ(fromInput(2 + j) + fromHidden(2 + j))
            let n = Foundation.tanh(fromInput(4 + j) + r * fromHidden(4 + j))
            h1.append((1 - z) * n + z * h0[j])
        }

        var generator = SeededGenerator(seed: 0)
        let gru = GRU<Double>(inputSize: 1, hiddenSize: 2, batchFirst: true, returnsSequence: false, using: &generator)
        gru.weightIH.value = Tensor(shape: [6, 1], scalars: wih)
        gru.weightHH.value = Tensor(shape: [6, 2], scalars: whh.flatMap { $0 })
        gru.biasIH.value = Tensor(bih)
        gru.biasHH.value = Tensor(bhh)
        gru.useAutodiff = autodiff
        let (output, final) = gru.forward(
            Tensor(shape: [1, 1, 1], scalars: [x]), initialState: Tensor(shape: [1, 2], scalars: h0))
        expectClose(output, Tensor(shape: [1, 2], scalars: h1), rtol: 1e-14, atol: 1e-15)
        #expect(final == output)
    }
}

// MARK: - Initialization, names, work, misuse, edges

@Suite struct RecurrentLayerTests {
    /// Every H×H gate block of the recurrent weight is orthogonal (BᵀB = BBᵀ = I), the blocks
    /// differ, and the other weights and biases lie in ±1/√H.
    @Test(arguments: [false, true])
    func recurrentBlocksAreOrthogonal(gru: Bool) {
        var generator = SeededGenerator(seed: 3)
        let h = 5
        let layer: Layer<Double> = gru
            ? GRU(inputSize: 3, hiddenSize: h, using: &generator) : LSTM(inputSize: 3, hiddenSize: h, using: &generator)
        let gates = gru ? 3 : 4
        let recurrent = layer.parameters[1].value
        #expect(recurrent.shape == [gates * h, h])
        let blocks = recurrent.split(count: gates, alongAxis: 0)
        for block in blocks {
            expectClose(matmul(block, block, transposeLHS: true), .identity(h), rtol: 0, atol: 1e-13)
            expectClose(matmul(block, block, transposeRHS: true), .identity(h), rtol: 0, atol: 1e-13)
        }
        #expect(blocks[0] != blocks[1])
        let bound = 1 / Double(h).squareRoot()
        for parameter in [layer.parameters[0], layer.parameters[2], layer.parameters[3]] {
            #expect(parameter.value.scalars.allSatisfy { abs($0) <= bound })
        }
    }

    /// PyTorch's `nn.LSTM` / `nn.GRU` names and shapes, and the descriptions.
    @Test func namesShapesAndDescriptions() {
        var generator = SeededGenerator(seed: 0)
        let lstm = LSTM<Float>(inputSize: 64, hiddenSize: 128, using: &generator)
        #expect(lstm.namedParameters.map(\.name) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        #expect(lstm.parameters.map(\.value.shape) == [[512, 64], [512, 128], [512], [512]])
        #expect(lstm.description == "LSTM(64 → 128, batchFirst: false, returnsSequence: true)")
        let gru = GRU<Float>(inputSize: 8, hiddenSize: 16, batchFirst: true, returnsSequence: false, using: &generator)
        #expect(gru.namedParameters.map(\.name) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        #expect(gru.parameters.map(\.value.shape) == [[48, 8], [48, 16], [48], [48]])
        #expect(gru.description == "GRU(8 → 16, batchFirst: true, returnsSequence: false)")
    }

    /// The manual path's GEMM work, multiply-add for multiply-add: one input projection over the
    /// whole sequence and one recurrent product per step forward; backward one product per step
    /// but the first for the state gradient, then one each for dW_ih, dW_hh and the input
    /// gradient. The autodiff path does the same work.
    @Test(arguments: [false, true], [false, true])
    func gemmWork(gru: Bool, autodiff: Bool) {
        let (t, b, i, h) = (5, 3, 4, 6)
        let width = (gru ? 3 : 4) * h
        let layer = gru ? AnyRecurrent.gru(inputSize: i, hiddenSize: h).layer : AnyRecurrent.lstm(inputSize: i, hiddenSize: h).layer
        layer.useAutodiff = autodiff
        let input = random([t, b, i], 1)
        let (output, forward) = MultiplyAddCounter.counting { layer.forward(input) }
        #expect(forward == t * b * width * (i + h))
        for computesInputGradient in [true, false] {
            layer.computesInputGradient = computesInputGradient
            if computesInputGradient == false { _ = layer.forward(input) }
            let (_, backward) = MultiplyAddCounter.counting { layer.backward(random(output.shape, 2)) }
            let inputGradient = computesInputGradient ? t * b * width * i : 0
            #expect(backward == t * b * width * (i + h) + (t - 1) * b * width * h + inputGradient)
        }
    }

    /// A NaN in the input makes the outputs from that step on NaN for that sequence (not the
    /// others), and the gradients NaN, not zero, on both paths.
    @Test(arguments: [false, true], [false, true])
    func nanInputGivesNaNDownstream(gru: Bool, autodiff: Bool) {
        let layer = gru ? AnyRecurrent.gru().layer : AnyRecurrent.lstm().layer
        layer.useAutodiff = autodiff
        var input = random([4, 2, 2], 1)
        input[1, 0, 0] = .nan
        let output = layer.forward(input)
        for step in 0..<4 {
            for j in 0..<3 {
                #expect(output[step, 0, j].isNaN == (step >= 1), "\(layer) step \(step)")
                #expect(!output[step, 1, j].isNaN)
            }
        }
        let gradient = layer.backward(random(output.shape, 2))!
        #expect(gradient[1, 0, 0].isNaN && gradient[0, 0, 1].isNaN)
        #expect(gradient.slice(alongAxis: 1, 1..<2).scalars.allSatisfy { !$0.isNaN })
        for parameter in layer.parameters {
            #expect(parameter.gradient!.scalars.allSatisfy { $0.isNaN }, "\(parameter.name)")
        }
    }

    /// An empty batch runs on both paths: empty outputs and input gradients, zero parameter
    /// gradients, empty final states.
    @Test(arguments: [false, true])
    func emptyBatch(autodiff: Bool) {
        for recurrent in [AnyRecurrent.lstm(), AnyRecurrent.gru(returnsSequence: false)] {
            recurrent.layer.useAutodiff = autodiff
            let (output, final) = recurrent.forward(.zeros(shape: [4, 0, 2]), nil)
            #expect(output.scalarCount == 0 && final.allSatisfy { $0.shape == [0, 3] })
            let gradients = recurrent.backward(.zeros(shape: output.shape), nil)
            #expect(gradients.input?.shape == [4, 0, 2])
            #expect(recurrent.layer.parameters.allSatisfy { $0.gradient == .zeros(shape: $0.value.shape) })
        }
    }

    @Test func zeroHiddenSizeIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = LSTM<Float>(inputSize: 3, hiddenSize: 0, using: &generator)
        }
        #expect(standardError(result).contains("LSTM: sizes 3 → 0 must be positive"))
    }

    @Test func lstmWrongFeatureSize() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = LSTM<Float>(inputSize: 3, hiddenSize: 4, using: &generator).forward(.zeros(shape: [5, 2, 4]))
        }
        #expect(standardError(result).contains(
            "LSTM(3 → 4, batchFirst: false, returnsSequence: true): input [5, 2, 4]: expected [time, batch, 3]"))
    }

    @Test func gruWrongFeatureSizeOnTheAutodiffPath() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let gru = GRU<Double>(inputSize: 3, hiddenSize: 4, batchFirst: true, returnsSequence: false, using: &generator)
            gru.useAutodiff = true
            _ = gru.forward(.zeros(shape: [2, 5, 2]))
        }
        #expect(standardError(result).contains(
            "GRU(3 → 4, batchFirst: true, returnsSequence: false): input [2, 5, 2]: expected [batch, time, 3]"))
    }

    @Test func lstmMismatchedInitialHiddenState() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let lstm = LSTM<Double>(inputSize: 3, hiddenSize: 4, using: &generator)
            _ = lstm.forward(
                .zeros(shape: [5, 2, 3]),
                initialState: LSTMState(hidden: .zeros(shape: [3, 4]), cell: .zeros(shape: [2, 4])))
        }
        #expect(standardError(result).contains(
            "LSTM(3 → 4, batchFirst: false, returnsSequence: true): initial hidden state [3, 4] for input [5, 2, 3]: expected [2, 4]"))
    }

    @Test func lstmMismatchedInitialCellStateOnTheAutodiffPath() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let lstm = LSTM<Double>(inputSize: 3, hiddenSize: 4, batchFirst: true, using: &generator)
            lstm.useAutodiff = true
            _ = lstm.forward(
                .zeros(shape: [2, 5, 3]),
                initialState: LSTMState(hidden: .zeros(shape: [2, 4]), cell: .zeros(shape: [2, 5])))
        }
        #expect(standardError(result).contains("initial cell state [2, 5] for input [2, 5, 3]: expected [2, 4]"))
    }

    @Test func gruMismatchedInitialState() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let gru = GRU<Double>(inputSize: 3, hiddenSize: 4, using: &generator)
            _ = gru.forward(.zeros(shape: [5, 2, 3]), initialState: .zeros(shape: [2, 3]))
        }
        #expect(standardError(result).contains(
            "GRU(3 → 4, batchFirst: false, returnsSequence: true): initial state [2, 3] for input [5, 2, 3]: expected [2, 4]"))
    }

    @Test func mismatchedFinalStateGradient() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let gru = GRU<Double>(inputSize: 3, hiddenSize: 4, using: &generator)
            let (output, _) = gru.forward(.zeros(shape: [5, 2, 3]), initialState: nil)
            gru.backward(.zeros(shape: output.shape), finalStateGradient: .zeros(shape: [4]))
        }
        #expect(standardError(result).contains("final state gradient [4] for input [5, 2, 3]: expected [2, 4]"))
    }

    @Test func emptySequenceIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = LSTM<Double>(inputSize: 3, hiddenSize: 4, using: &generator).forward(.zeros(shape: [0, 2, 3]))
        }
        #expect(standardError(result).contains("input [0, 2, 3]: the sequence has no time steps"))
    }
}

// MARK: - The time loop split by rows

/// The manual time loop splits each step's rows over the threads (product and pointwise step):
/// on 2 threads it must give the 1-thread bits, for uneven splits, both cells and both directions.
@Suite struct RecurrentRowSplitTests {
    /// Output, input gradient and parameter gradients of one forward and backward.
    static func run(gru: Bool, threads: Int) -> [[Float]] {
        // 17 rows: an uneven split; sizes whose step product has over 2²⁰ multiply-adds.
        let (hidden, batch) = (gru ? 160 : 128, 17)
        // Made on one thread: the orthogonal initialization's QR runs in OpenBLAS, whose
        // rounding may depend on its thread count (which another test may be changing).
        let (layer, input, upstream) = BLASThreadsForTests.with(1) {
            var g = SeededGenerator(seed: 21)
            let layer: Layer<Float> = gru
                ? GRU<Float>(inputSize: 24, hiddenSize: hidden, bidirectional: true, using: &g)
                : LSTM<Float>(inputSize: 24, hiddenSize: hidden, numLayers: 2, bidirectional: true, using: &g)
            return (
                layer, Tensor<Float>.randomUniform(shape: [5, batch, 24], in: -1..<1, using: &g),
                Tensor<Float>.randomUniform(shape: [5, batch, 2 * hidden], in: -1..<1, using: &g))
        }
        return BLASThreadsForTests.with(threads) {
            layer.zeroGradients()
            let output = layer.forward(input)
            let inputGradient = layer.backward(upstream)!
            return [output.scalars, inputGradient.scalars] + layer.parameters.map { $0.gradient!.scalars }
        }
    }

    @Test(arguments: [false, true])
    func twoThreadsGiveTheOneThreadBits(gru: Bool) {
        let width = gru ? 3 * 160 : 4 * 128, hidden = gru ? 160 : 128
        let level = KernelFamily.matrixProducts.level
        let parts = BLASThreadsForTests.with(2) {
            RecurrentKernels.rowParts(batch: 17, width: width, hiddenSize: hidden, level: level)
        }
        // Split where the products run on Nabla's packed GEMM; on OpenBLAS (below AVX-512) these
        // products are above its threading size, so it threads them and the rows stay whole.
        #expect(parts == (level == .avx512 ? min(2, BLAS.onlineCores) : 1))
        let portableParts = BLASThreadsForTests.with(2) {
            RecurrentKernels.rowParts(batch: 17, width: width, hiddenSize: hidden, level: .portable)
        }
        #expect(portableParts == 1, "OpenBLAS would thread each part's product too")
        let (one, two) = (Self.run(gru: gru, threads: 1), Self.run(gru: gru, threads: 2))
        #expect(one.count == two.count)
        for (a, b) in zip(one, two) {
            #expect(a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern })
        }
    }

    @Test func rowRangesCoverTheBatch() {
        for parts in 1...5 {
            let ranges = (0..<parts).map { RecurrentKernels.rowRange($0, of: parts, batch: 17) }
            #expect(ranges.map(\.count).reduce(0, +) == 17)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.first + $0.count == $1.first })
        }
    }
}

/// The level log names only the kernel families that ran: a GRU's backward has no vector
/// kernel, an LSTM's has one (its cell's backward step).
@Suite struct RecurrentLevelLogTests {
    @Test(arguments: [false, true])
    func backwardLogsVectorMathOnlyForTheLSTM(gru: Bool) {
        var g = SeededGenerator(seed: 3)
        let layer: Layer<Float> = gru
            ? GRU<Float>(inputSize: 4, hiddenSize: 8, using: &g) : LSTM<Float>(inputSize: 4, hiddenSize: 8, using: &g)
        let input = Tensor<Float>.randomUniform(shape: [3, 2, 4], in: -1..<1, using: &g)
        let upstream = Tensor<Float>.randomUniform(shape: [3, 2, 8], in: -1..<1, using: &g)
        _ = layer.forward(input)
        let (_, runs) = KernelLevelLog.recording { layer.backward(upstream) }
        let vectorMath = runs.contains { $0.family == .vectorMath }
        #expect(vectorMath == !gru, "\(runs)")
    }
}
