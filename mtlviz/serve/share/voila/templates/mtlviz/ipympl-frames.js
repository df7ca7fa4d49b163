// ipympl's canvas model (0.10) PNG-encodes its whole figure again for every frame the kernel
// sends: handle_binary() ends with this.set("_data_url", this.offscreen_canvas.toDataURL()), a
// picture kept for a notebook saved with its widget state. A Voila page is never saved, and its
// figures have no toolbar to download from, so the picture is never read; encoding it took 7 ms
// of the page's main thread per frame of lesson 05 (a 1035 x 576 figure, a 271 KB string) and
// 3.5 ms for lesson 03's 1080 x 333 one (RESULTS.md, "Classroom load").
//
// The model sets its offscreen canvas in initialize(); a setter on Object.prototype for that one
// name catches the first model, stores the canvas as the model's own property (as a plain
// assignment would) and wraps the model class's handle_binary so that, while it runs, that
// canvas's toDataURL answers null. Everything else (drawing the frame, the visible canvas's own
// toDataURL, JupyterLab, where this script is not served) is unchanged. If a later ipympl renames
// these, the setter is never called and frames are encoded as before.
(() => {
  const name = 'offscreen_canvas';
  if (Object.prototype.hasOwnProperty(name)) return;
  Object.defineProperty(Object.prototype, name, {
    configurable: true,
    set(canvas) {
      Object.defineProperty(this, name, {value: canvas, writable: true, configurable: true, enumerable: true});
      const model = Object.getPrototypeOf(this);
      if (typeof model.handle_binary !== 'function' || Object.prototype.hasOwnProperty.call(model, '__mtlvizFrames')) return;
      const handleBinary = model.handle_binary;
      model.handle_binary = function (...args) {
        const offscreen = this[name];
        if (!(offscreen instanceof HTMLCanvasElement)) return handleBinary.apply(this, args);
        offscreen.toDataURL = () => null;
        try {
          return handleBinary.apply(this, args);
        } finally {
          delete offscreen.toDataURL;
        }
      };
      Object.defineProperty(model, '__mtlvizFrames', {value: true});
    },
  });
})();
