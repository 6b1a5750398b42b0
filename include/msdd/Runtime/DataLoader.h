//===- DataLoader.h - Batches of images from a folder -----------*- C++ -*-===//
//
// A deterministic image loader for training. Every batch is a pure function of (seed,
// epoch, position): the file order of an epoch is a Fisher-Yates shuffle keyed by
// (seed, epoch), and each sample's crop offset and flip are keyed by (seed, epoch, its index
// in that order). A loader's whole state is therefore its LoaderPosition, which checkpoints
// store to resume bit for bit. A prefetch thread decodes batches ahead into a bounded queue.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_DATALOADER_H
#define MSDD_RUNTIME_DATALOADER_H

#include "msdd/Runtime/Tensor.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace msdd::rt {

/// The images of a folder: regular files named *.png, *.jpg or *.jpeg in any case, not
/// hidden, not recursive, as full paths sorted by name. Throws Error(directory, ...) if it is
/// missing or not a folder (an empty list is not an error).
std::vector<std::string> listImageFiles(const std::string &directory);

/// Throws Error(path, "image is WxH pixels, smaller than the ...") unless `image` (f32
/// [3, h, w], read from `path`) is at least height x width.
void checkImageCovers(const Tensor &image, const std::string &path, int64_t height,
                      int64_t width);

/// Copies the height x width window of `image` (f32 [3, h, w]) whose top left corner is
/// (y0, x0), mirrored left-right if `mirror`, to `out` (3 x height x width values). The
/// window must lie inside the image (checkImageCovers).
void copyImageWindow(const Tensor &image, int64_t y0, int64_t x0, int64_t height, int64_t width,
                     bool mirror, float *out);

struct DataLoaderOptions {
  std::string directory;
  /// Batch shape [batchSize, 3, height, width].
  int64_t batchSize = 1, height = 0, width = 0;
  uint64_t seed = 0;
  bool shuffle = true;
  /// Images larger than height x width are cropped: at a random offset (true) or centred.
  bool randomCrop = true;
  /// Mirror each sample left-right with probability 1/2.
  bool flip = true;
  /// Batches decoded ahead by the prefetch thread; 0 decodes in next() with no thread.
  size_t prefetch = 4;
};

/// Where the next batch starts: sample `position` of epoch `epoch`'s order. Batches never
/// straddle epochs: when fewer than batchSize samples are left, the epoch ends (they are
/// skipped) and the next batch is the first of the next epoch.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t position = 0;
  bool operator==(const LoaderPosition &other) const {
    return epoch == other.epoch && position == other.position;
  }
  bool operator!=(const LoaderPosition &other) const { return !(*this == other); }
};

class DataLoader {
public:
  /// Lists the folder (regular files named *.png, *.jpg or *.jpeg in any case, not hidden,
  /// not recursive, sorted by name) and starts the prefetch thread at `start`. Throws
  /// Error(directory, ...) if it is missing or not a folder, holds no images, or holds fewer
  /// images than one batch, and Error for a bad shape or position.
  explicit DataLoader(DataLoaderOptions options, LoaderPosition start = {});
  ~DataLoader();
  DataLoader(const DataLoader &) = delete;
  DataLoader &operator=(const DataLoader &) = delete;

  const DataLoaderOptions &options() const { return options_; }
  /// Full paths, sorted.
  const std::vector<std::string> &files() const { return files_; }
  int64_t batchesPerEpoch() const;
  /// A hash of the sorted file names (not their contents), to tell data folders apart.
  uint64_t filesHash() const;

  /// The position of the batch the next call to next() returns.
  LoaderPosition position() const;
  /// Continues from `position` (drops what was prefetched).
  void seek(LoaderPosition position);
  /// The next batch, f32 [batchSize, 3, height, width]; advances position(). Rethrows a
  /// decoding error (Error naming the file) for the batch that needed that file.
  Tensor next();

  /// The file indices of `epoch`, in the order the epoch visits them.
  std::vector<int64_t> epochOrder(int64_t epoch) const;
  /// The batch at `position`, decoded in the calling thread (what next() returns there).
  Tensor batchAt(LoaderPosition position) const;
  /// The position after the batch at `position`.
  LoaderPosition advance(LoaderPosition position) const;

private:
  struct Item {
    LoaderPosition after;
    Tensor batch;
    std::exception_ptr error;
  };
  void startWorker();
  void stopWorker();
  void work();
  void checkPosition(LoaderPosition position) const;

  DataLoaderOptions options_;
  std::vector<std::string> files_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  LoaderPosition consumer_; // next batch next() returns
  LoaderPosition producer_; // next batch the worker decodes
  bool stopping_ = false;
  bool failed_ = false; // the worker stopped after an error item
  std::thread worker_;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_DATALOADER_H
