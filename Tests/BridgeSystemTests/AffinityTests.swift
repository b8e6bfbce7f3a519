import CBridgeShims
import Glibc
import Testing

/// The CPU shims the include probe pins its extra threads with (`IncludeProbe` in
/// SafeFileReader.swift): which CPUs count as "other", that the caller's mask is saved whole and
/// put back, and that a pin names exactly one valid CPU. Each test narrows the affinity of the
/// thread it runs on and puts the saved mask back before it returns.
@Suite("CPU affinity shims", .serialized)
struct AffinityTests {
    /// The CPUs set in a mask.
    static func cpus(in mask: bk_cpu_mask) -> [Int32] {
        withUnsafeBytes(of: mask.words) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            return (0..<Int32(words.count * 64)).filter { cpu in
                words[Int(cpu) / 64] & (1 << UInt64(cpu % 64)) != 0
            }
        }
    }

    /// A mask of exactly `cpus`.
    static func mask(of cpus: [Int32]) -> bk_cpu_mask {
        var mask = bk_cpu_mask()
        withUnsafeMutableBytes(of: &mask.words) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for cpu in cpus { words[Int(cpu) / 64] |= 1 << UInt64(cpu % 64) }
        }
        return mask
    }

    @Test func othersAreTheMaskLessTheCurrentCPUInOrderUpToTheCapacity() {
        var others = [Int32](repeating: -1, count: 8)
        var saved = bk_cpu_mask()
        let count = Int(bk_other_allowed_cpus(&others, Int32(others.count), &saved))
        defer { #expect(bk_affinity_restore(&saved) == 0) }
        let allowed = Self.cpus(in: saved)
        #expect(!allowed.isEmpty, "the thread's own mask is never empty")
        // The CPU the thread runs on is always in its mask, and is the one left out.
        #expect(count == min(others.count, allowed.count - 1))
        let listed = Array(others.prefix(count))
        #expect(listed == listed.sorted())
        #expect(Set(listed).count == listed.count)
        #expect(Set(listed).isSubset(of: Set(allowed)))
        #expect(others.dropFirst(count).allSatisfy { $0 == -1 }, "nothing written past the count")

        var one: [Int32] = [-1]
        var again = bk_cpu_mask()
        let capped = Int(bk_other_allowed_cpus(&one, 1, &again))
        #expect(capped == min(1, allowed.count - 1))
        #expect(Self.cpus(in: again) == allowed)
    }

    @Test func oneCPUAllowedLeavesNoOther() {
        var others = [Int32](repeating: -1, count: 3)
        var saved = bk_cpu_mask()
        _ = bk_other_allowed_cpus(&others, Int32(others.count), &saved)
        defer { #expect(bk_affinity_restore(&saved) == 0) }
        guard let first = Self.cpus(in: saved).first else {
            Issue.record("the thread's mask lists no CPU")
            return
        }
        var narrowed = Self.mask(of: [first])
        #expect(bk_affinity_restore(&narrowed) == 0)
        var seen = bk_cpu_mask()
        #expect(bk_other_allowed_cpus(&others, Int32(others.count), &seen) == 0)
        #expect(Self.cpus(in: seen) == [first])
    }

    @Test func twoCPUsAllowedLeaveTheOtherOne() throws {
        var others = [Int32](repeating: -1, count: 3)
        var saved = bk_cpu_mask()
        _ = bk_other_allowed_cpus(&others, Int32(others.count), &saved)
        defer { #expect(bk_affinity_restore(&saved) == 0) }
        let allowed = Self.cpus(in: saved)
        try #require(allowed.count >= 2, "this check needs 2 CPUs in the test's mask; it has \(allowed)")
        let pair = Array(allowed.prefix(2))
        var narrowed = Self.mask(of: pair)
        #expect(bk_affinity_restore(&narrowed) == 0)
        var seen = bk_cpu_mask()
        var other: [Int32] = [-1, -1]
        #expect(bk_other_allowed_cpus(&other, 2, &seen) == 1)
        #expect(pair.contains(other[0]))
        #expect(other[1] == -1)
        #expect(Self.cpus(in: seen) == pair)
    }

    @Test func aPinNamesOneValidCPU() {
        var attributes = pthread_attr_t()
        #expect(pthread_attr_init(&attributes) == 0)
        defer { pthread_attr_destroy(&attributes) }
        #expect(bk_thread_attributes_pin(&attributes, -1) == EINVAL)
        #expect(bk_thread_attributes_pin(&attributes, 1024) == EINVAL)
        var others: [Int32] = [-1]
        var saved = bk_cpu_mask()
        _ = bk_other_allowed_cpus(&others, 1, &saved)
        if let cpu = Self.cpus(in: saved).first {
            #expect(bk_thread_attributes_pin(&attributes, cpu) == 0)
        }
    }
}
