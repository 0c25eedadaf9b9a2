// Copy the list as rich text (for the newsletter editor) with the html source as plain text.
(function () {
  const button = document.getElementById("copy-digest");
  const status = document.getElementById("copy-status");
  const html = document.getElementById("digest-source").textContent;
  button.addEventListener("click", async () => {
    try {
      if (window.ClipboardItem) {
        await navigator.clipboard.write([new ClipboardItem({
          "text/html": new Blob([html], { type: "text/html" }),
          "text/plain": new Blob([document.getElementById("digest-html").innerText], { type: "text/plain" }),
        })]);
      } else {
        await navigator.clipboard.writeText(html);
      }
      status.textContent = "Copied.";
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById("digest-html"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = "Selected: press Ctrl-C (or Cmd-C) to copy.";
    }
  });
})();
