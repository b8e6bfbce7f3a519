// Summary statistics of duration samples, and the fixed-point formatting the report uses.
import Glibc

struct Stats {
    let count: Int
    let p50: Double, p90: Double, p99: Double, mean: Double, min: Double, max: Double

    init?(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        guard let first = sorted.first, let last = sorted.last else { return nil }
        func rank(_ p: Double) -> Double {
            // Nearest rank: the smallest sample with at least p% of the samples at or below it.
            let index = Swift.max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
            return Double(sorted[Swift.min(index, sorted.count - 1)])
        }
        count = sorted.count
        p50 = rank(50); p90 = rank(90); p99 = rank(99)
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count)
        min = Double(first); max = Double(last)
    }
}

func ms(_ ns: Double) -> String { fixed(ns / 1e6, 3) }

func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((abs(value) * scale).rounded())
    let unit = Int(scale)
    let whole = scaled / unit
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let fraction = String(scaled % unit)
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + fill : fill + text
}

