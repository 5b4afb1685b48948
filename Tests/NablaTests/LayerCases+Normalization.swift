import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for BatchNorm, LayerNorm and GroupNorm.
    static let normalization: [LayerCase] = []
}
