// N-API binding of Debian's PocketSphinx (5prealpha) for hark.
//
// One Decoder wraps one ps_decoder_t. PocketSphinx decoders are not thread-safe,
// so a Decoder runs at most one operation at a time (enforced here, not only in
// JS), and every blocking call (model load, utterance decode) runs on the libuv
// thread pool through an AsyncWorker so the event loop stays free.

#include <napi.h>

#include <sys/prctl.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
}

namespace {

struct Word {
  std::string word;
  int startFrame;
  int endFrame;
  double prob;
};

struct Utterance {
  std::string text;
  int32_t score = 0;
  double prob = 0;
  std::vector<Word> words;
};

// Builds argv from a flat list of ["-name", "value", ...] pairs.
cmd_ln_t *ParseArgs(const std::vector<std::string> &args, std::string *error) {
  std::vector<char *> argv;
  argv.reserve(args.size() + 1);
  for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  cmd_ln_t *config = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(args.size()), argv.data(), TRUE);
  if (config == nullptr) *error = "invalid PocketSphinx arguments";
  return config;
}

class Decoder;

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::vector<std::string> args)
      : Napi::AsyncWorker(env), args_(std::move(args)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<std::string> args_;
  Napi::Promise::Deferred deferred_;
  cmd_ln_t *config_ = nullptr;
  ps_decoder_t *ps_ = nullptr;
};

class Decoder : public Napi::ObjectWrap<Decoder> {
 public:
  static Napi::FunctionReference constructor;

  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "Decoder",
                                    {InstanceMethod("decode", &Decoder::Decode),
                                     InstanceMethod("free", &Decoder::Free),
                                     InstanceAccessor("busy", &Decoder::Busy, nullptr),
                                     InstanceAccessor("frameRate", &Decoder::FrameRate, nullptr)});
    constructor = Napi::Persistent(fn);
    constructor.SuppressDestruct();
    exports.Set("Decoder", fn);
    return exports;
  }

  explicit Decoder(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Decoder>(info) {
    // Only LoadWorker creates Decoders, passing the native handles as externals.
    if (info.Length() != 2 || !info[0].IsExternal() || !info[1].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "use loadDecoder(args) to create a Decoder");
    }
    ps_ = info[0].As<Napi::External<ps_decoder_t>>().Data();
    config_ = info[1].As<Napi::External<cmd_ln_t>>().Data();
    frameRate_ = cmd_ln_int32_r(config_, "-frate");
  }

  ~Decoder() override { Release(); }

  ps_decoder_t *ps() const { return ps_; }
  std::atomic<bool> busy_{false};
  bool freeRequested_ = false;

  void Release() {
    if (ps_ != nullptr) ps_free(ps_);
    if (config_ != nullptr) cmd_ln_free_r(config_);
    ps_ = nullptr;
    config_ = nullptr;
  }

 private:
  Napi::Value Decode(const Napi::CallbackInfo &info);

  Napi::Value Free(const Napi::CallbackInfo &info) {
    // A decode in flight still uses the decoder: free it when that decode ends.
    if (busy_) {
      freeRequested_ = true;
    } else {
      Release();
    }
    return info.Env().Undefined();
  }

  Napi::Value Busy(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), busy_.load()); }
  Napi::Value FrameRate(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), frameRate_); }

  ps_decoder_t *ps_ = nullptr;
  cmd_ln_t *config_ = nullptr;
  int32_t frameRate_ = 100;
};

Napi::FunctionReference Decoder::constructor;

void LoadWorker::Execute() {
  std::string error;
  config_ = ParseArgs(args_, &error);
  if (config_ == nullptr) {
    SetError(error);
    return;
  }
  ps_ = ps_init(config_);
  if (ps_ == nullptr) {
    cmd_ln_free_r(config_);
    config_ = nullptr;
    SetError("PocketSphinx could not load its model (check -hmm, -lm and -dict paths)");
  }
}

void LoadWorker::OnOK() {
  Napi::Env env = Env();
  Napi::Object obj = Decoder::constructor.New(
      {Napi::External<ps_decoder_t>::New(env, ps_), Napi::External<cmd_ln_t>::New(env, config_)});
  deferred_.Resolve(obj);
}

class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, Decoder *decoder, Napi::Object self, std::vector<int16_t> pcm)
      : Napi::AsyncWorker(env),
        decoder_(decoder),
        self_(Napi::Persistent(self)),
        pcm_(std::move(pcm)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    ps_decoder_t *ps = decoder_->ps();
    if (ps_start_utt(ps) < 0) {
      SetError("ps_start_utt failed");
      return;
    }
    // full_utt = TRUE: the whole utterance at once lets PocketSphinx use batch
    // cepstral mean normalisation, which is measurably more accurate than live CMN.
    if (!pcm_.empty() && ps_process_raw(ps, pcm_.data(), pcm_.size(), FALSE, TRUE) < 0) {
      ps_end_utt(ps);
      SetError("ps_process_raw failed");
      return;
    }
    if (ps_end_utt(ps) < 0) {
      SetError("ps_end_utt failed");
      return;
    }
    std::vector<int16_t>().swap(pcm_);
    int32 score = 0;
    const char *hyp = ps_get_hyp(ps, &score);
    result_.text = hyp != nullptr ? hyp : "";
    result_.score = score;
    logmath_t *lmath = ps_get_logmath(ps);
    result_.prob = logmath_exp(lmath, ps_get_prob(ps));
    for (ps_seg_t *seg = ps_seg_iter(ps); seg != nullptr; seg = ps_seg_next(seg)) {
      Word w;
      const char *word = ps_seg_word(seg);
      w.word = word != nullptr ? word : "";
      ps_seg_frames(seg, &w.startFrame, &w.endFrame);
      int32 ascr = 0, lscr = 0, lback = 0;
      w.prob = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
      result_.words.push_back(std::move(w));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("text", result_.text);
    out.Set("score", result_.score);
    out.Set("prob", result_.prob);
    Napi::Array words = Napi::Array::New(env, result_.words.size());
    for (size_t i = 0; i < result_.words.size(); i++) {
      const Word &w = result_.words[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("word", w.word);
      o.Set("startFrame", w.startFrame);
      o.Set("endFrame", w.endFrame);
      o.Set("prob", w.prob);
      words.Set(static_cast<uint32_t>(i), o);
    }
    out.Set("words", words);
    Finish();
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error &e) override {
    Finish();
    deferred_.Reject(e.Value());
  }

 private:
  void Finish() {
    decoder_->busy_ = false;
    if (decoder_->freeRequested_) decoder_->Release();
  }

  Decoder *decoder_;
  Napi::ObjectReference self_;  // keeps the JS Decoder (and so ps_) alive while decoding
  std::vector<int16_t> pcm_;
  Napi::Promise::Deferred deferred_;
  Utterance result_;
};

Napi::Value Decoder::Decode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (ps_ == nullptr) throw Napi::Error::New(env, "decoder has been freed");
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
    throw Napi::TypeError::New(env, "decode(pcm) expects an Int16Array of 16-bit mono samples");
  }
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) {
    throw Napi::Error::New(env, "decoder is busy: PocketSphinx decoders are not thread-safe");
  }
  Napi::Int16Array samples = info[0].As<Napi::Int16Array>();
  // Copied so the caller may reuse its buffer while the decode runs on another thread.
  std::vector<int16_t> pcm(samples.Data(), samples.Data() + samples.ElementLength());
  auto *worker = new DecodeWorker(env, this, info.This().As<Napi::Object>(), std::move(pcm));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value LoadDecoder(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    throw Napi::TypeError::New(env, "loadDecoder(args) expects an array of strings");
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < arr.Length(); i++) args.push_back(arr.Get(i).ToString().Utf8Value());
  auto *worker = new LoadWorker(env, std::move(args));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// Allocates and touches `bytes` of native memory that is never freed: the
// SIMULATE_NATIVE_LEAK_MB demonstration of what leaking engines do. Touching
// every page makes the memory resident, so it shows in RSS, not in the JS heap.
std::vector<void *> leaked;

Napi::Value LeakNativeMemory(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  double bytes = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  if (bytes <= 0) return Napi::Number::New(env, 0);
  void *p = std::malloc(static_cast<size_t>(bytes));
  if (p == nullptr) throw Napi::Error::New(env, "out of memory");
  std::memset(p, 0x5a, static_cast<size_t>(bytes));
  // Kept reachable so the compiler cannot elide the malloc/memset pair.
  leaked.push_back(p);
  return Napi::Number::New(env, bytes);
}

// Asks the kernel to send `signal` to this process when its parent dies, so a
// worker whose server was SIGKILLed cannot outlive it even if its event loop is
// stuck (the IPC 'disconnect' handler covers the ordinary case).
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sig = info.Length() > 0 ? info[0].ToNumber().Int32Value() : SIGKILL;
  if (prctl(PR_SET_PDEATHSIG, sig) != 0) throw Napi::Error::New(env, "prctl(PR_SET_PDEATHSIG) failed");
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // PocketSphinx logs every step to stderr; hark reports through its own logger.
  err_set_logfp(nullptr);
  Decoder::Init(env, exports);
  exports.Set("loadDecoder", Napi::Function::New(env, LoadDecoder));
  exports.Set("leakNativeMemory", Napi::Function::New(env, LeakNativeMemory));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal));
  return exports;
}

}  // namespace

NODE_API_MODULE(hark_pocketsphinx, Init)
