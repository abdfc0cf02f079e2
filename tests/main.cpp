// The test binary's main: doctest, plus the plain closing line CI reads.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

// Counts test cases; doctest's own summary line is not one CI recognises.
struct Counts : doctest::IReporter {
    static inline int passed = 0;
    static inline int failed = 0;
    explicit Counts(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& s) override {
        failed = static_cast<int>(s.numTestCasesFailed);
        passed = static_cast<int>(s.numTestCasesPassingFilters) - failed;
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("counts", 1, Counts);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    int rc = context.run();
    if (context.shouldExit()) return rc;
    std::printf("%d passed, %d failed\n", Counts::passed, Counts::failed);
    return rc;
}
