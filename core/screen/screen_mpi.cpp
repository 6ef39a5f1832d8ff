// The only MPI in a screen: joining the job, the top-k reduction, gathering
// fronts. A build without MPI (or a process not started by mpirun/srun)
// gets a communicator of one and the same code path.
#include "core/screen/screen_detail.h"
#include "common/error.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#ifdef SOZAI_WITH_MPI
#include <mpi.h>
#endif

namespace sozai {
namespace screen {
namespace detail {

namespace {
bool started_by_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}
[[maybe_unused]] int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}
}  // namespace

#ifdef SOZAI_WITH_MPI

namespace {
// The reduction's operator sees only buffers; the list shape travels here
// (set by reduce_top before MPI_Reduce, the same on every rank).
int64_t g_width = 0, g_k = 0;

void merge_op(void* in, void* inout, int* len, MPI_Datatype*) {
  const int64_t n = g_width * g_k;
  for (int e = 0; e < *len; ++e) {
    auto* a = static_cast<double*>(in) + e * n;
    auto* b = static_cast<double*>(inout) + e * n;
    // A list is padded with records of index -1 after its hits.
    auto unpad = [&](const double* p) {
      std::vector<double> v;
      for (int64_t i = 0; i < g_k && p[i * g_width + 1] >= 0; ++i) v.insert(v.end(), p + i * g_width, p + (i + 1) * g_width);
      return v;
    };
    auto merged = merge_top(unpad(a), unpad(b), g_width, g_k);
    const int64_t hits = static_cast<int64_t>(merged.size()) / g_width;
    merged.resize(static_cast<size_t>(n), 0.0);
    for (int64_t i = hits; i < g_k; ++i) merged[i * g_width + 1] = -1;
    std::copy(merged.begin(), merged.end(), b);
  }
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw StorageError(str("MPI ", what, " failed (code ", rc, ")"));
}
}  // namespace

Comm init_comm(bool use_mpi) {
  Comm c;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!use_mpi || (!initialized && !started_by_launcher())) return c;
  if (!initialized) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
    std::atexit(finalize_at_exit);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &c.local_rank);
  MPI_Comm_size(local, &c.local_size);
  MPI_Comm_free(&local);
  c.active = c.size > 1;
  return c;
}

std::vector<double> reduce_top(const Comm& comm, const std::vector<double>& mine, int64_t width, int64_t k) {
  if (!comm.active) return mine;
  g_width = width;
  g_k = k;
  std::vector<double> send(static_cast<size_t>(width * k), 0.0), recv(send.size(), 0.0);
  std::copy(mine.begin(), mine.end(), send.begin());
  for (int64_t i = static_cast<int64_t>(mine.size()) / width; i < k; ++i) send[i * width + 1] = -1;
  MPI_Datatype list;
  check_mpi(MPI_Type_contiguous(static_cast<int>(width * k), MPI_DOUBLE, &list), "type");
  MPI_Type_commit(&list);
  MPI_Op op;
  MPI_Op_create(&merge_op, /*commute=*/1, &op);  // the merge is order-free: ties go to the lower index
  const int rc = MPI_Reduce(send.data(), recv.data(), 1, list, op, 0, MPI_COMM_WORLD);
  MPI_Op_free(&op);
  MPI_Type_free(&list);
  check_mpi(rc, "reduce");
  if (comm.rank != 0) return mine;
  std::vector<double> out;
  for (int64_t i = 0; i < k && recv[i * width + 1] >= 0; ++i)
    out.insert(out.end(), recv.begin() + i * width, recv.begin() + (i + 1) * width);
  return out;
}

std::vector<double> gather_records(const Comm& comm, const std::vector<double>& mine) {
  if (!comm.active) return mine;
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(comm.size), offsets(comm.size);
  check_mpi(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "gather");
  int total = 0;
  for (int r = 0; r < comm.size; ++r) {
    offsets[r] = total;
    total += counts[r];
  }
  std::vector<double> all(comm.rank == 0 ? total : 0);
  check_mpi(MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0,
                        MPI_COMM_WORLD),
            "gatherv");
  return comm.rank == 0 ? all : mine;
}

uint64_t sum_all(const Comm& comm, uint64_t value) {
  if (!comm.active) return value;
  unsigned long long in = value, out = 0;
  check_mpi(MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD), "allreduce");
  return out;
}

bool all_true(const Comm& comm, bool value) {
  if (!comm.active) return value;
  int in = value ? 1 : 0, out = 0;
  check_mpi(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "allreduce");
  return out == 1;
}

constexpr int kProgressTag = 7301;

struct ProgressBoard::Pending {
  std::array<unsigned long long, 3> data{};
  MPI_Request request = MPI_REQUEST_NULL;
};

ProgressBoard::ProgressBoard(const Comm& comm) : comm_(comm), latest_(static_cast<size_t>(comm.size)) {
  for (auto& l : latest_) l = {0, 0, 0};
}

ProgressBoard::~ProgressBoard() {
  for (auto& p : pending_) MPI_Wait(&p->request, MPI_STATUS_IGNORE);
}

void ProgressBoard::report(uint64_t done, uint64_t screened, bool last) {
  if (comm_.rank == 0 || !comm_.active) {
    latest_[static_cast<size_t>(comm_.rank)] = {done, screened, last ? 1u : 0u};
    return;
  }
  // Drop the sends that have completed, then post this one.
  std::vector<std::unique_ptr<Pending>> still;
  for (auto& p : pending_) {
    int flag = 0;
    MPI_Test(&p->request, &flag, MPI_STATUS_IGNORE);
    if (!flag) still.push_back(std::move(p));
  }
  pending_.swap(still);
  auto p = std::make_unique<Pending>();
  p->data = {done, screened, last ? 1ull : 0ull};
  MPI_Isend(p->data.data(), 3, MPI_UNSIGNED_LONG_LONG, 0, kProgressTag, MPI_COMM_WORLD, &p->request);
  pending_.push_back(std::move(p));
}

bool ProgressBoard::poll() {
  if (comm_.rank != 0) return true;
  if (comm_.active) {
    while (true) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kProgressTag, MPI_COMM_WORLD, &flag, &st);
      if (!flag) break;
      std::array<unsigned long long, 3> d{};
      MPI_Recv(d.data(), 3, MPI_UNSIGNED_LONG_LONG, st.MPI_SOURCE, kProgressTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      latest_[static_cast<size_t>(st.MPI_SOURCE)] = {d[0], d[1], d[2]};
    }
  }
  for (const auto& l : latest_)
    if (!l[2]) return false;
  return true;
}

#else

struct ProgressBoard::Pending {};
ProgressBoard::ProgressBoard(const Comm& comm) : comm_(comm), latest_(1) { latest_[0] = {0, 0, 0}; }
ProgressBoard::~ProgressBoard() = default;
void ProgressBoard::report(uint64_t done, uint64_t screened, bool last) {
  latest_[0] = {done, screened, last ? 1u : 0u};
}
bool ProgressBoard::poll() { return latest_[0][2] != 0; }

Comm init_comm(bool use_mpi) {
  Comm c;
  if (use_mpi && started_by_launcher() && env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", 1)) > 1)
    throw UnsupportedError("sozai was built without MPI (SOZAI_WITH_MPI=OFF), so it cannot join an mpirun job of "
                           "several ranks; screen shards with --shard i/n instead");
  return c;
}
std::vector<double> reduce_top(const Comm&, const std::vector<double>& mine, int64_t, int64_t) { return mine; }
std::vector<double> gather_records(const Comm&, const std::vector<double>& mine) { return mine; }
uint64_t sum_all(const Comm&, uint64_t value) { return value; }
bool all_true(const Comm&, bool value) { return value; }

#endif

uint64_t ProgressBoard::done() const {
  uint64_t t = 0;
  for (const auto& l : latest_) t += l[0];
  return t;
}
uint64_t ProgressBoard::screened() const {
  uint64_t t = 0;
  for (const auto& l : latest_) t += l[1];
  return t;
}

}  // namespace detail
}  // namespace screen
}  // namespace sozai
