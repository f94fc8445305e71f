// N-API binding of Debian's PocketSphinx (5prealpha) for hark.
//
// One Decoder wraps one ps_decoder_t. PocketSphinx decoders are not thread-safe,
// so a Decoder runs at most one operation at a time (enforced here, not only in
// JS), and every blocking call (model load, utterance decode, each streaming
// step) runs on the libuv thread pool through an AsyncWorker so the event loop
// stays free. A streaming utterance (startUtt, processChunk..., endUtt) holds
// the decoder: decode() is refused until it ends.

#include <napi.h>

#include <malloc.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/feat.h>
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
                                     InstanceMethod("startUtt", &Decoder::StartUtt),
                                     InstanceMethod("processChunk", &Decoder::ProcessChunk),
                                     InstanceMethod("endUtt", &Decoder::EndUtt),
                                     InstanceMethod("free", &Decoder::Free),
                                     InstanceAccessor("busy", &Decoder::Busy, nullptr),
                                     InstanceAccessor("inUtterance", &Decoder::InUtterance, nullptr),
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
    // Remembered before any utterance: the model's CMN type (batch for en-us)
    // and its -cmninit mean, the fallback seed of a stream's live CMN.
    feat_t *feat = ps_get_feat(ps_);
    modelCmn_ = feat->cmn;
    if (feat->cmn_struct != nullptr) {
      cmn_t *cmn = feat->cmn_struct;
      cmnInit_.assign(cmn->cmn_mean, cmn->cmn_mean + cmn->veclen);
    }
  }

  ~Decoder() override { Release(); }

  ps_decoder_t *ps() const { return ps_; }
  std::atomic<bool> busy_{false};
  bool freeRequested_ = false;
  // An utterance is open (startUtt .. endUtt): the decoder belongs to a stream.
  bool inUtt_ = false;

  void Release() {
    if (cmnFe_ != nullptr) fe_free(cmnFe_);
    cmnFe_ = nullptr;
    if (ps_ != nullptr) ps_free(ps_);
    if (config_ != nullptr) cmd_ln_free_r(config_);
    ps_ = nullptr;
    config_ = nullptr;
  }

  // Any incremental ps_process_raw call makes sphinxbase switch the feature
  // module to live CMN for good (feat.c: "Only cmn_prior in block computation
  // mode"), which would quietly degrade every later whole-file decode. Put the
  // model's own CMN type back before each one.
  void RestoreModelCmn() { ps_get_feat(ps_)->cmn = modelCmn_; }

  // Seeds live CMN for a stream. Live CMN subtracts a mean that sphinxbase
  // refreshes only at the end of each utterance, so the first utterance is
  // decoded with whatever mean the decoder holds: the model's -cmninit (WER
  // 0.241 on the dev set against 0.180 for batch CMN) or the last file's.
  // The mean cepstrum of the stream's first second (computed by a front end
  // of our own, so the decoder's stays untouched) is what batch CMN would
  // use, from the audio at hand: 0.195. Without usable audio, -cmninit.
  void SeedCmn(const std::vector<int16_t> &pcm) {
    cmn_t *cmn = ps_get_feat(ps_)->cmn_struct;
    if (cmn == nullptr) return;
    std::vector<double> sum(cmn->veclen, 0.0);
    int32 used = MeanCepstrum(pcm, cmn->veclen, &sum);
    if (used == 0 && !cmnInit_.empty()) {
      // Counted as one second of evidence, like the estimate it stands in for.
      used = frameRate_;
      for (int32 i = 0; i < cmn->veclen; i++) sum[i] = cmnInit_[i] * used;
    }
    if (used == 0) return;
    for (int32 i = 0; i < cmn->veclen; i++) {
      cmn->cmn_mean[i] = static_cast<mfcc_t>(sum[i] / used);
      cmn->sum[i] = static_cast<mfcc_t>(sum[i]);
    }
    cmn->nframe = used;
  }

  // Sums the cepstra of `pcm` into `sum`; returns how many frames it summed.
  int32 MeanCepstrum(const std::vector<int16_t> &pcm, int32 veclen, std::vector<double> *sum) {
    if (pcm.empty()) return 0;
    if (cmnFe_ == nullptr) cmnFe_ = fe_init_auto_r(config_);
    if (cmnFe_ == nullptr || fe_get_output_size(cmnFe_) != veclen) return 0;
    fe_start_utt(cmnFe_);
    mfcc_t **cep = nullptr;
    int32 nfr = 0;
    if (fe_process_utt(cmnFe_, pcm.data(), pcm.size(), &cep, &nfr) < 0) return 0;
    int32 used = 0;
    for (int32 f = 0; f < nfr; f++) {
      // Zero-energy frames are skipped, as sphinxbase's own cmn() does.
      if (cep[f][0] < 0) continue;
      for (int32 i = 0; i < veclen; i++) (*sum)[i] += cep[f][i];
      used++;
    }
    if (cep != nullptr) fe_free_2d(cep);
    std::vector<mfcc_t> tail(veclen);
    int32 ntail = 0;
    fe_end_utt(cmnFe_, tail.data(), &ntail);
    return used;
  }

 private:
  Napi::Value Decode(const Napi::CallbackInfo &info);
  Napi::Value StartUtt(const Napi::CallbackInfo &info);
  Napi::Value ProcessChunk(const Napi::CallbackInfo &info);
  Napi::Value EndUtt(const Napi::CallbackInfo &info);

  // Checks the decoder may start an operation now and marks it busy.
  void Claim(Napi::Env env) {
    if (ps_ == nullptr) throw Napi::Error::New(env, "decoder has been freed");
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true)) {
      throw Napi::Error::New(env, "decoder is busy: PocketSphinx decoders are not thread-safe");
    }
  }

  Napi::Value Free(const Napi::CallbackInfo &info) {
    // An operation in flight still uses the decoder: free it when that operation ends.
    if (busy_) {
      freeRequested_ = true;
    } else {
      Release();
    }
    return info.Env().Undefined();
  }

  Napi::Value Busy(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), busy_.load()); }
  Napi::Value InUtterance(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), inUtt_); }
  Napi::Value FrameRate(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), frameRate_); }

  ps_decoder_t *ps_ = nullptr;
  cmd_ln_t *config_ = nullptr;
  int32_t frameRate_ = 100;
  cmn_type_t modelCmn_ = CMN_BATCH;
  fe_t *cmnFe_ = nullptr;
  std::vector<mfcc_t> cmnInit_;
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

// Opens an utterance whose frame 0 is its first sample. Incremental decoding
// numbers frames from the start of the "stream" (the front end counts every
// sample since ps_start_stream, batch decodes included), so a new stream per
// utterance keeps word times utterance-relative for both kinds of decode.
int StartUtterance(ps_decoder_t *ps) {
  if (ps_start_stream(ps) < 0) return -1;
  return ps_start_utt(ps);
}

// The hypothesis and word segments of the utterance just ended.
//
// Word posteriors are read for every request, whether or not it shows them:
// they cost nothing to skip. With -bestpath (which the tuned settings need),
// ps_get_hyp builds the lattice, finds the best path and runs the
// forward-backward pass in one step (ngram_search_bestpath calls
// ps_lattice_posterior), and ps_get_prob and ps_seg_prob only read what it
// left. Measured on the dev clips: ps_get_hyp 1.4% of a decode, the
// posterior pass 0.1%, the two reads ~0 (docs/benchmarks.md).
void ReadUtterance(ps_decoder_t *ps, Utterance *out) {
  int32 score = 0;
  const char *hyp = ps_get_hyp(ps, &score);
  out->text = hyp != nullptr ? hyp : "";
  out->score = score;
  logmath_t *lmath = ps_get_logmath(ps);
  out->prob = logmath_exp(lmath, ps_get_prob(ps));
  for (ps_seg_t *seg = ps_seg_iter(ps); seg != nullptr; seg = ps_seg_next(seg)) {
    Word w;
    const char *word = ps_seg_word(seg);
    w.word = word != nullptr ? word : "";
    ps_seg_frames(seg, &w.startFrame, &w.endFrame);
    int32 ascr = 0, lscr = 0, lback = 0;
    w.prob = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
    out->words.push_back(std::move(w));
  }
}

Napi::Object UtteranceToJs(Napi::Env env, const Utterance &u) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("text", u.text);
  out.Set("score", u.score);
  out.Set("prob", u.prob);
  Napi::Array words = Napi::Array::New(env, u.words.size());
  for (size_t i = 0; i < u.words.size(); i++) {
    const Word &w = u.words[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("word", w.word);
    o.Set("startFrame", w.startFrame);
    o.Set("endFrame", w.endFrame);
    o.Set("prob", w.prob);
    words.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("words", words);
  return out;
}

// One operation on a Decoder, run on the libuv thread pool. Keeps the JS
// Decoder (and so ps_) alive while it runs, and frees the decoder afterwards if
// free() was called meanwhile.
class DecoderWorker : public Napi::AsyncWorker {
 public:
  DecoderWorker(Napi::Env env, Decoder *decoder, Napi::Object self)
      : Napi::AsyncWorker(env),
        decoder_(decoder),
        self_(Napi::Persistent(self)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void OnOK() override {
    Napi::Value value = Result(Env());
    Finish(true);
    deferred_.Resolve(value);
  }

  void OnError(const Napi::Error &e) override {
    Finish(false);
    deferred_.Reject(e.Value());
  }

 protected:
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Decoder state once the operation is over, on the main thread.
  virtual void Settle(bool ok) {}

  Decoder *decoder_;

 private:
  void Finish(bool ok) {
    Settle(ok);
    decoder_->busy_ = false;
    if (decoder_->freeRequested_) decoder_->Release();
  }

  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
};

class DecodeWorker : public DecoderWorker {
 public:
  DecodeWorker(Napi::Env env, Decoder *decoder, Napi::Object self, std::vector<int16_t> pcm)
      : DecoderWorker(env, decoder, self), pcm_(std::move(pcm)) {}

  void Execute() override {
    ps_decoder_t *ps = decoder_->ps();
    decoder_->RestoreModelCmn();
    if (StartUtterance(ps) < 0) {
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
    ReadUtterance(ps, &result_);
  }

 protected:
  Napi::Value Result(Napi::Env env) override { return UtteranceToJs(env, result_); }

 private:
  std::vector<int16_t> pcm_;
  Utterance result_;
};

class StartUttWorker : public DecoderWorker {
 public:
  StartUttWorker(Napi::Env env, Decoder *decoder, Napi::Object self, bool seedCmn, std::vector<int16_t> cmnAudio)
      : DecoderWorker(env, decoder, self), seedCmn_(seedCmn), cmnAudio_(std::move(cmnAudio)) {}

  void Execute() override {
    if (seedCmn_) decoder_->SeedCmn(cmnAudio_);
    std::vector<int16_t>().swap(cmnAudio_);
    if (StartUtterance(decoder_->ps()) < 0) SetError("ps_start_utt failed");
  }

 protected:
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  void Settle(bool ok) override {
    if (!ok) decoder_->inUtt_ = false;
  }

 private:
  bool seedCmn_;
  std::vector<int16_t> cmnAudio_;
};

// Most samples given to one incremental ps_process_raw call: 50 ms, at most 5
// frames. In live mode the main search scores each frame -pl_window (5) frames
// after the phone-loop lookahead, so every new batch of frames must leave 5
// frames of room in the feature buffer. PocketSphinx keeps that room by sizing
// the cepstrum buffer 5 frames below the feature buffer, but a whole-file
// decode (full_utt) grows both buffers to the file's length without keeping
// the margin. A large chunk on such a decoder then fills the feature buffer,
// frames go unscored ("Frame N outside queue", logged and ignored), and the
// search aborts the process on an assertion in ngram_search_fwdtree.c
// (eval_nonroot_chan: hmm_frame == frame_idx). The initial feature buffer
// holds 12 frames, so 5 per call is always safe.
constexpr size_t kLiveSliceSamples = 800;

class ProcessChunkWorker : public DecoderWorker {
 public:
  ProcessChunkWorker(Napi::Env env, Decoder *decoder, Napi::Object self, std::vector<int16_t> pcm)
      : DecoderWorker(env, decoder, self), pcm_(std::move(pcm)) {}

  void Execute() override {
    ps_decoder_t *ps = decoder_->ps();
    // full_utt = FALSE: searched as it arrives, so partial results exist.
    // Fed in slices: see kLiveSliceSamples.
    for (size_t at = 0; at < pcm_.size(); at += kLiveSliceSamples) {
      size_t n = std::min(kLiveSliceSamples, pcm_.size() - at);
      if (ps_process_raw(ps, pcm_.data() + at, n, FALSE, FALSE) < 0) {
        SetError("ps_process_raw failed");
        return;
      }
    }
    int32 score = 0;
    const char *hyp = ps_get_hyp(ps, &score);
    partial_ = hyp != nullptr ? hyp : "";
  }

 protected:
  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("partial", partial_);
    return out;
  }

 private:
  std::vector<int16_t> pcm_;
  std::string partial_;
};

class EndUttWorker : public DecoderWorker {
 public:
  EndUttWorker(Napi::Env env, Decoder *decoder, Napi::Object self) : DecoderWorker(env, decoder, self) {}

  void Execute() override {
    ps_decoder_t *ps = decoder_->ps();
    if (ps_end_utt(ps) < 0) {
      SetError("ps_end_utt failed");
      return;
    }
    ReadUtterance(ps, &result_);
  }

 protected:
  Napi::Value Result(Napi::Env env) override { return UtteranceToJs(env, result_); }
  // Even a failed ps_end_utt leaves no utterance open to continue.
  void Settle(bool ok) override { decoder_->inUtt_ = false; }

 private:
  Utterance result_;
};

std::vector<int16_t> Int16Arg(const Napi::CallbackInfo &info, const char *usage) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
    throw Napi::TypeError::New(info.Env(), usage);
  }
  Napi::Int16Array samples = info[0].As<Napi::Int16Array>();
  // Copied so the caller may reuse its buffer while the decode runs on another thread.
  return std::vector<int16_t>(samples.Data(), samples.Data() + samples.ElementLength());
}

Napi::Value Decoder::Decode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<int16_t> pcm = Int16Arg(info, "decode(pcm) expects an Int16Array of 16-bit mono samples");
  if (inUtt_) throw Napi::Error::New(env, "decoder is streaming: end the utterance first");
  Claim(env);
  auto *worker = new DecodeWorker(env, this, info.This().As<Napi::Object>(), std::move(pcm));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Decoder::StartUtt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool seedCmn = false;
  std::vector<int16_t> cmnAudio;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Value a = info[0].As<Napi::Object>().Get("cmnAudio");
    if (!a.IsUndefined()) {
      if (!a.IsTypedArray() || a.As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
        throw Napi::TypeError::New(env, "startUtt({ cmnAudio }) expects an Int16Array");
      }
      Napi::Int16Array samples = a.As<Napi::Int16Array>();
      cmnAudio.assign(samples.Data(), samples.Data() + samples.ElementLength());
      seedCmn = true;
    }
  }
  if (inUtt_) throw Napi::Error::New(env, "an utterance is already open");
  Claim(env);
  inUtt_ = true;
  auto *worker = new StartUttWorker(env, this, info.This().As<Napi::Object>(), seedCmn, std::move(cmnAudio));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Decoder::ProcessChunk(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<int16_t> pcm = Int16Arg(info, "processChunk(pcm) expects an Int16Array of 16-bit mono samples");
  if (!inUtt_) throw Napi::Error::New(env, "no utterance is open: call startUtt() first");
  Claim(env);
  auto *worker = new ProcessChunkWorker(env, this, info.This().As<Napi::Object>(), std::move(pcm));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Decoder::EndUtt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!inUtt_) throw Napi::Error::New(env, "no utterance is open: call startUtt() first");
  Claim(env);
  auto *worker = new EndUttWorker(env, this, info.This().As<Napi::Object>());
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

// Hands the heap's free memory back to the kernel (glibc malloc_trim). After a
// model is unloaded its buffers are free but often still in the process's heap
// (glibc raises its mmap threshold after the first large free, so later large
// buffers come from the heap); trimming is what makes the RSS drop.
Napi::Value ReleaseFreeMemory(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // PocketSphinx logs every step to stderr; hark reports through its own logger.
  err_set_logfp(nullptr);
  Decoder::Init(env, exports);
  exports.Set("loadDecoder", Napi::Function::New(env, LoadDecoder));
  exports.Set("leakNativeMemory", Napi::Function::New(env, LeakNativeMemory));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal));
  exports.Set("releaseFreeMemory", Napi::Function::New(env, ReleaseFreeMemory));
  return exports;
}

}  // namespace

NODE_API_MODULE(hark_pocketsphinx, Init)
