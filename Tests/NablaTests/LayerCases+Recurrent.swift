import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for LSTM and GRU: five or six steps, batches of two or three, whole sequences and last
    /// steps, time-major and batch-first, a first layer without an input gradient, stacks, two
    /// directions and inter-layer dropout.
    static let recurrent: [LayerCase] = [
        .init(name: "LSTM(3 → 4), sequence, [5, 2, 3]", inputShape: [5, 2, 3]) {
            LSTM(inputSize: 3, hiddenSize: 4, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 3, hiddenSize: 4, using: &$0)
        },
        .init(name: "LSTM(3 → 4), last step, [6, 3, 3]", inputShape: [6, 3, 3]) {
            LSTM(inputSize: 3, hiddenSize: 4, returnsSequence: false, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 3, hiddenSize: 4, returnsSequence: false, using: &$0)
        },
        .init(name: "LSTM(2 → 3, batchFirst), sequence, [2, 5, 2]", inputShape: [2, 5, 2]) {
            LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, using: &$0)
        },
        .init(name: "LSTM(2 → 3, batchFirst), last step, first layer", inputShape: [3, 5, 2], computesInputGradient: false) {
            LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, returnsSequence: false, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, returnsSequence: false, using: &$0)
        },
        .init(name: "GRU(3 → 4), sequence, [5, 2, 3]", inputShape: [5, 2, 3]) {
            GRU(inputSize: 3, hiddenSize: 4, using: &$0)
        } makeFloat: {
            GRU(inputSize: 3, hiddenSize: 4, using: &$0)
        },
        .init(name: "GRU(3 → 4), last step, [6, 3, 3]", inputShape: [6, 3, 3]) {
            GRU(inputSize: 3, hiddenSize: 4, returnsSequence: false, using: &$0)
        } makeFloat: {
            GRU(inputSize: 3, hiddenSize: 4, returnsSequence: false, using: &$0)
        },
        .init(name: "GRU(2 → 3, batchFirst), sequence, [2, 5, 2]", inputShape: [2, 5, 2]) {
            GRU(inputSize: 2, hiddenSize: 3, batchFirst: true, using: &$0)
        } makeFloat: {
            GRU(inputSize: 2, hiddenSize: 3, batchFirst: true, using: &$0)
        },
        .init(name: "GRU(3 → 2), sequence, first layer", inputShape: [5, 2, 3], computesInputGradient: false) {
            GRU(inputSize: 3, hiddenSize: 2, using: &$0)
        } makeFloat: {
            GRU(inputSize: 3, hiddenSize: 2, using: &$0)
        },
        .init(name: "LSTM(2 → 3, 2 layers, bidirectional), sequence, [4, 2, 2]", inputShape: [4, 2, 2]) {
            LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, using: &$0)
        },
        .init(name: "GRU(3 → 2, 3 layers, batchFirst), last step, [2, 4, 3]", inputShape: [2, 4, 3]) {
            GRU(inputSize: 3, hiddenSize: 2, numLayers: 3, batchFirst: true, returnsSequence: false, using: &$0)
        } makeFloat: {
            GRU(inputSize: 3, hiddenSize: 2, numLayers: 3, batchFirst: true, returnsSequence: false, using: &$0)
        },
        .init(name: "GRU(2 → 3, bidirectional), last step, first layer", inputShape: [4, 2, 2], computesInputGradient: false) {
            GRU(inputSize: 2, hiddenSize: 3, bidirectional: true, returnsSequence: false, using: &$0)
        } makeFloat: {
            GRU(inputSize: 2, hiddenSize: 3, bidirectional: true, returnsSequence: false, using: &$0)
        },
        .init(name: "LSTM(2 → 2, 2 layers, dropout 0.4), sequence, [4, 3, 2]", inputShape: [4, 3, 2]) {
            LSTM(inputSize: 2, hiddenSize: 2, numLayers: 2, dropout: 0.4, using: &$0)
        } makeFloat: {
            LSTM(inputSize: 2, hiddenSize: 2, numLayers: 2, dropout: 0.4, using: &$0)
        },
    ]
}
