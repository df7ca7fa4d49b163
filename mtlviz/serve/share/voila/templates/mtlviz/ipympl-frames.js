// How a served page draws the frames its kernel sends to an ipympl figure (ipympl 0.10's canvas
// model; JupyterLab, where this script is not served, is untouched).
//
// 1. Every frame is drawn, in the order it came. ipympl loads each frame into one <img> by setting
//    its src, and composites it when the image has loaded. Most frames are diffs (the pixels that
//    changed since the last frame, the rest transparent), and a frame that arrives while the one
//    before is still loading replaces it: the earlier frame is never drawn, and the pixels only it
//    changed stay stale until a full frame comes (matplotlib issue 19116). It happened to lesson 03
//    moved as its page opened: the move went out as the whole figure, an empty diff (the answer to
//    the page's last "draw") overtook it, and the figure kept its old curves. A busy machine (a
//    class's browsers on the server's cores) makes it likelier, since each frame waits longer for
//    its decoding. Here each frame is decoded with createImageBitmap as it arrives and composited
//    after every frame before it, with the image mode (full or diff) it was sent with. A resize
//    keeps what the figure shows until the kernel sends the next frame (ipympl redrew its last
//    frame, possibly a diff, onto the cleared canvas).
//
// 2. No frame is PNG-encoded again. ipympl ends its handling of each frame with
//    this.set("_data_url", this.offscreen_canvas.toDataURL()), a picture kept for a notebook saved
//    with its widget state. A Voila page is never saved, and its figures have no toolbar to
//    download from, so the picture is never read; encoding it took 7 ms of the page's main thread
//    per frame of lesson 05 (a 1035 x 576 figure) and 3.5 ms for lesson 03's 1080 x 333 one
//    (RESULTS.md, "Classroom load").
//
// 3. A figure the kernel made not resizable stays so (below).
//
// The model sets its offscreen canvas in initialize(); a setter on Object.prototype for that one
// name catches the first model, stores the canvas as the model's own property (as a plain
// assignment would) and replaces the model class's handle_binary, wraps its resize_canvas and
// update_disabled. If an ipympl renames these (or the flag handle_binary clears,
// waiting_for_image), the setter is never called or the methods are left alone, and figures are
// drawn as ipympl draws them.
(() => {
  const name = 'offscreen_canvas';
  if (Object.prototype.hasOwnProperty(name)) return;
  Object.defineProperty(Object.prototype, name, {
    configurable: true,
    set(canvas) {
      Object.defineProperty(this, name, {value: canvas, writable: true, configurable: true, enumerable: true});
      const model = Object.getPrototypeOf(this);
      if (typeof model.handle_binary !== 'function' || typeof model.resize_canvas !== 'function'
          || !String(model.handle_binary).includes('waiting_for_image') || typeof createImageBitmap !== 'function'
          || Object.prototype.hasOwnProperty.call(model, '__mtlvizFrames')) return;
      const resizeCanvas = model.resize_canvas;
      model.handle_binary = function (msg, buffers) {
        const data = buffers[0];
        const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data);
        const full = this.get('_image_mode') === 'full';  // the mode this frame was sent with
        const decoded = createImageBitmap(new Blob([bytes], {type: 'image/png'}));
        decoded.catch(() => {});  // handled now: a failed decoding waiting its turn is not "uncaught"
        if (!this.__mtlvizLive) {
          this.__mtlvizLive = true;
          if (this.image) this.image.onload = null;  // a picture from the saved state must not land over live frames
        }
        this.waiting_for_image = false;  // as ipympl: the kernel may be asked for the next frame
        const previous = this.__mtlvizFrame || Promise.resolve();
        this.__mtlvizFrame = previous.then(() => decoded).then((frame) => {
          const offscreen = this[name];
          if (full) this.offscreen_context.clearRect(0, 0, offscreen.width, offscreen.height);
          this.offscreen_context.drawImage(frame, 0, 0);
          frame.close();
          this._for_each_view((view) => view.update_canvas());
        }).catch((error) => console.warn('mtlviz: a figure frame could not be drawn', error));
      };
      // ipympl resizes the offscreen canvas (which clears it) and then draws this.image onto it.
      model.resize_canvas = function (...args) {
        const offscreen = this[name];
        if (this.__mtlvizLive && offscreen.width && offscreen.height) {
          const kept = document.createElement('canvas');
          kept.width = offscreen.width;
          kept.height = offscreen.height;
          kept.getContext('2d').drawImage(offscreen, 0, 0);
          this.image = kept;
        }
        return resizeCanvas.apply(this, args);
      };
      // ipympl makes every live figure resizable (update_disabled sets resizable to "the kernel is
      // live"), over the kernel's resizable=False (mtlviz.widgets._canvas.interactive_figure), and
      // draws a handle in its corner that a student can drag: each step of the drag lays the
      // figure out and draws it in full. A served page keeps the kernel's value while it is live.
      const updateDisabled = model.update_disabled;
      if (typeof updateDisabled === 'function') {
        model.update_disabled = function (...args) {
          if (this.disabled) return updateDisabled.apply(this, args);
        };
      }
      Object.defineProperty(model, '__mtlvizFrames', {value: true});
    },
  });
})();
