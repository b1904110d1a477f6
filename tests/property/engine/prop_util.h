// POSTBOX_RC_PROP: RC_GTEST_PROP with a per-property run count and size, so
// the expensive properties (each case opens a real LMDB store) keep the suite
// inside its CI budget while the cheap ones run RapidCheck's default 100.
// Setting RC_PARAMS (e.g. to reproduce a failure or to soak) hands all the
// parameters back to RapidCheck's global configuration.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_PROP_UTIL_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_PROP_UTIL_H_

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>

namespace postbox::model {

template <typename Testable>
void CheckProperty(Testable&& testable, int runs, int max_size) {
  if (std::getenv("RC_PARAMS") != nullptr) {
    rc::detail::checkGTest(std::forward<Testable>(testable));
    return;
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = runs;
  params.maxSize = max_size;
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream ss;
    rc::detail::printResultMessage(result, ss);
    FAIL() << ss.str();
  }
}

}  // namespace postbox::model

#define POSTBOX_RC_PROP(TestCase, Name, runs, max_size, ArgList)                       \
  void PostboxProp_##TestCase##_##Name ArgList;                                        \
  TEST(TestCase, Name) {                                                               \
    ::postbox::model::CheckProperty(&PostboxProp_##TestCase##_##Name, runs, max_size); \
  }                                                                                    \
  void PostboxProp_##TestCase##_##Name ArgList

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_PROP_UTIL_H_
