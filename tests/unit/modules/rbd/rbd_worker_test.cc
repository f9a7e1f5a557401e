// The rbd module's worker thread: jobs run in order, and the thread does not keep the
// CPU pin of the (reactor) thread that started it, since every librados/librbd thread
// is created from it and would inherit that pin.
#include "modules/rbd/rbd_worker.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::rbd {
namespace {

cpu_set_t ProcessCpus() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  EXPECT_EQ(sched_getaffinity(getpid(), sizeof(cpus), &cpus), 0);
  return cpus;
}

TEST(RbdWorker, JobsRunInOrder) {
  RbdWorker w;
  w.Start();
  std::vector<int> order;
  std::promise<void> done;
  for (int i = 0; i < 5; ++i) w.Post([&order, i] { order.push_back(i); });
  w.Post([&done] { done.set_value(); });
  done.get_future().wait();
  w.Stop();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// Started from a thread pinned to one CPU (as a reactor is), the worker runs on the
// process's whole CPU set, and so does a thread it starts (as librados does).
TEST(RbdWorker, DoesNotInheritTheStartersPin) {
  const cpu_set_t all = ProcessCpus();
  if (CPU_COUNT(&all) < 2) GTEST_SKIP() << "the process may run on one CPU only";
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;

  RbdWorker w;
  cpu_set_t starter_cpus, worker_cpus, child_cpus;
  CPU_ZERO(&starter_cpus);
  CPU_ZERO(&worker_cpus);
  CPU_ZERO(&child_cpus);
  std::thread starter([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
    sched_getaffinity(0, sizeof(starter_cpus), &starter_cpus);
    w.Start();
  });
  starter.join();
  EXPECT_EQ(CPU_COUNT(&starter_cpus), 1);

  std::promise<void> done;
  w.Post([&] {
    sched_getaffinity(0, sizeof(worker_cpus), &worker_cpus);
    std::thread child([&] { sched_getaffinity(0, sizeof(child_cpus), &child_cpus); });
    child.join();
    done.set_value();
  });
  done.get_future().wait();
  w.Stop();
  EXPECT_TRUE(CPU_EQUAL(&worker_cpus, &all))
      << CPU_COUNT(&worker_cpus) << " CPUs, the process has " << CPU_COUNT(&all);
  EXPECT_TRUE(CPU_EQUAL(&child_cpus, &all))
      << CPU_COUNT(&child_cpus) << " CPUs, the process has " << CPU_COUNT(&all);
}

}  // namespace
}  // namespace bdevkit::rbd
