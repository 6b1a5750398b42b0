//===- DataLoader.cpp -----------------------------------------------------===//
#include "msdd/Runtime/DataLoader.h"

#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Random.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>

namespace msdd::rt {

namespace {

bool hasImageExtension(const std::string &name) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0)
    return false;
  std::string ext = name.substr(dot + 1);
  for (char &c : ext)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

} // namespace

std::vector<std::string> listImageFiles(const std::string &directory) {
  struct stat st;
  if (::stat(directory.c_str(), &st) != 0)
    throw Error(directory, "cannot open the data folder: " + errnoMessage(errno));
  if (!S_ISDIR(st.st_mode))
    throw Error(directory, "is not a folder (the data must be a folder of images)");
  DIR *dir = ::opendir(directory.c_str());
  if (!dir)
    throw Error(directory, "cannot open the data folder: " + errnoMessage(errno));
  std::vector<std::string> names;
  while (dirent *entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || !hasImageExtension(name))
      continue;
    std::string path = directory + "/" + name;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  std::string prefix = directory;
  while (prefix.size() > 1 && prefix.back() == '/')
    prefix.pop_back();
  std::vector<std::string> paths;
  for (const std::string &name : names)
    paths.push_back(prefix == "/" ? "/" + name : prefix + "/" + name);
  return paths;
}

void checkImageCovers(const Tensor &image, const std::string &path, int64_t height,
                      int64_t width) {
  int64_t h = image.shape()[1], w = image.shape()[2];
  if (h < height || w < width)
    throw Error(path, "image is " + std::to_string(w) + "x" + std::to_string(h) +
                          " pixels, smaller than the " + std::to_string(width) + "x" +
                          std::to_string(height) + " the model takes");
}

void copyImageWindow(const Tensor &image, int64_t y0, int64_t x0, int64_t height, int64_t width,
                     bool mirror, float *out) {
  int64_t h = image.shape()[1], w = image.shape()[2];
  const float *src = image.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < height; ++y) {
      const float *row = src + (c * h + y0 + y) * w + x0;
      float *outRow = out + (c * height + y) * width;
      if (mirror)
        for (int64_t x = 0; x < width; ++x)
          outRow[x] = row[width - 1 - x];
      else
        std::memcpy(outRow, row, sizeof(float) * static_cast<size_t>(width));
    }
}

DataLoader::DataLoader(DataLoaderOptions options, LoaderPosition start)
    : options_(std::move(options)) {
  if (options_.batchSize <= 0 || options_.height <= 0 || options_.width <= 0)
    throw Error("data loader", "bad batch shape [" + std::to_string(options_.batchSize) +
                                   ", 3, " + std::to_string(options_.height) + ", " +
                                   std::to_string(options_.width) + "]");
  files_ = listImageFiles(options_.directory);
  if (files_.empty())
    throw Error(options_.directory, "no images in the data folder (looked for *.png, *.jpg, *.jpeg)");
  if (static_cast<int64_t>(files_.size()) < options_.batchSize)
    throw Error(options_.directory,
                std::to_string(files_.size()) + " image" + (files_.size() == 1 ? "" : "s") +
                    ", fewer than one batch of " + std::to_string(options_.batchSize));
  checkPosition(start);
  consumer_ = producer_ = start;
  startWorker();
}

DataLoader::~DataLoader() { stopWorker(); }

int64_t DataLoader::batchesPerEpoch() const {
  return static_cast<int64_t>(files_.size()) / options_.batchSize;
}

uint64_t DataLoader::filesHash() const {
  // FNV-1a over the names (without the folder), each followed by a NUL.
  uint64_t h = 0xcbf29ce484222325ull;
  for (const std::string &path : files_) {
    std::string name = path.substr(path.rfind('/') + 1);
    for (unsigned char c : name)
      h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0) * 0x100000001b3ull;
  }
  return h;
}

void DataLoader::checkPosition(LoaderPosition position) const {
  int64_t n = static_cast<int64_t>(files_.size());
  if (position.epoch < 0 || position.position < 0 || position.position % options_.batchSize != 0 ||
      position.position + options_.batchSize > n)
    throw Error(options_.directory,
                "loader position (epoch " + std::to_string(position.epoch) + ", position " +
                    std::to_string(position.position) + ") is not the start of a batch of " +
                    std::to_string(options_.batchSize) + " among " + std::to_string(n) +
                    " images (was the data folder changed?)");
}

std::vector<int64_t> DataLoader::epochOrder(int64_t epoch) const {
  std::vector<int64_t> order(files_.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int64_t>(i);
  if (!options_.shuffle)
    return order;
  // Fisher-Yates, each draw keyed by (seed, epoch, i): no generator state to carry.
  for (size_t i = order.size(); i-- > 1;) {
    uint64_t word = counterHash({options_.seed, uint64_t(RandomStream::Shuffle),
                                 static_cast<uint64_t>(epoch), i});
    std::swap(order[i], order[uniformBelow(word, i + 1)]);
  }
  return order;
}

LoaderPosition DataLoader::advance(LoaderPosition position) const {
  position.position += options_.batchSize;
  if (position.position + options_.batchSize > static_cast<int64_t>(files_.size())) {
    ++position.epoch;
    position.position = 0;
  }
  return position;
}

Tensor DataLoader::batchAt(LoaderPosition position) const {
  checkPosition(position);
  std::vector<int64_t> order = epochOrder(position.epoch);
  const int64_t batch = options_.batchSize, height = options_.height, width = options_.width;
  Tensor out(DType::F32, {batch, 3, height, width});
  float *dst = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t index = position.position + b;
    const std::string &path = files_[static_cast<size_t>(order[static_cast<size_t>(index)])];
    Tensor image = readImage(path);
    checkImageCovers(image, path, height, width);
    int64_t h = image.shape()[1], w = image.shape()[2];
    auto draw = [&](uint64_t what) {
      return counterHash({options_.seed, uint64_t(RandomStream::Augment),
                          static_cast<uint64_t>(position.epoch), static_cast<uint64_t>(index),
                          what});
    };
    int64_t y0 = (h - height) / 2, x0 = (w - width) / 2;
    if (options_.randomCrop) {
      y0 = static_cast<int64_t>(uniformBelow(draw(0), static_cast<uint64_t>(h - height + 1)));
      x0 = static_cast<int64_t>(uniformBelow(draw(1), static_cast<uint64_t>(w - width + 1)));
    }
    bool mirror = options_.flip && (draw(2) >> 63) != 0;
    copyImageWindow(image, y0, x0, height, width, mirror, dst + b * 3 * height * width);
  }
  return out;
}

LoaderPosition DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return consumer_;
}

void DataLoader::seek(LoaderPosition position) {
  checkPosition(position);
  stopWorker();
  queue_.clear();
  consumer_ = producer_ = position;
  failed_ = false;
  startWorker();
}

void DataLoader::startWorker() {
  stopping_ = false;
  if (options_.prefetch > 0)
    worker_ = std::thread([this] { work(); });
}

void DataLoader::stopWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable())
    worker_.join();
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || (!failed_ && queue_.size() < options_.prefetch); });
    if (stopping_)
      return;
    LoaderPosition at = producer_;
    lock.unlock();
    Item item{advance(at), Tensor(), nullptr};
    try {
      item.batch = batchAt(at);
    } catch (...) {
      item.error = std::current_exception();
    }
    lock.lock();
    if (stopping_)
      return;
    failed_ = item.error != nullptr;
    producer_ = item.after;
    queue_.push_back(std::move(item));
    changed_.notify_all();
  }
}

Tensor DataLoader::next() {
  if (options_.prefetch == 0) {
    LoaderPosition at = position();
    Tensor batch = batchAt(at);
    std::lock_guard<std::mutex> lock(mutex_);
    consumer_ = advance(at);
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !queue_.empty(); });
  if (queue_.front().error)
    std::rethrow_exception(queue_.front().error); // stays queued: the loader is stuck there
  Item item = std::move(queue_.front());
  queue_.pop_front();
  consumer_ = item.after;
  changed_.notify_all();
  return std::move(item.batch);
}

} // namespace msdd::rt
