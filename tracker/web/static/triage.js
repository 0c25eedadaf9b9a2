// Triage in minutes: each form posts to its canned query (or audited route) with _json=1 and
// the card changes in place; keys move between cards and decide. Without JavaScript the same
// forms post normally and come back to triage with a message.
(function () {
  const status = document.getElementById("triage-status");
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"];
  const DECISIONS = { accepted: "Accepted", rejected: "Rejected", new: "Back in triage" };

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? "error-inline" : "";
  }

  async function send(form, extra) {
    const body = new URLSearchParams(new FormData(form));
    for (const [key, value] of Object.entries(extra || {})) body.set(key, value);
    body.set("_json", "1");
    try {
      const response = await fetch(form.action, {
        method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if ((response.headers.get("content-type") || "").includes("json")) return response.json();
      return { ok: false, message: `The server said ${response.status}: are you still logged in?` };
    } catch (error) {
      return { ok: false, message: "Could not reach the server." };
    }
  }

  function sayOnCard(card, message, isError) {
    const line = card.querySelector(".card-status");
    line.textContent = message;
    line.classList.toggle("error-inline", isError);
  }

  function label(select, slug) {
    const option = Array.from(select.options).find((o) => o.value === slug);
    return option ? option.textContent : slug;
  }

  function titleOf(card) {
    return card.querySelector("h2").textContent.trim();
  }

  // The house style, as the digest writes it: "On 7 April MoJ published Title"; a date in
  // another year than the issue's carries its year.
  function preview(form) {
    const field = (name) => form.querySelector(`[name=${name}]`).value.trim();
    const issueYear = Number((form.dataset.issue || "").slice(0, 4));
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(field("published"));
    let when = "";
    if (match) {
      when = `On ${Number(match[3])} ${MONTHS[Number(match[2]) - 1]}`;
      if (Number(match[1]) !== issueYear) when += ` ${match[1]}`;
    }
    const text = [when, field("publisher"), field("verb"), field("title")].filter(Boolean).join(" ");
    form.querySelector(".preview").textContent = text ? `The line will read: ${text}` : "";
  }

  document.querySelectorAll("form.line").forEach((form) => {
    preview(form);
    form.addEventListener("input", () => preview(form));
  });

  async function decide(card, form, decision) {
    const result = await send(form, { status: decision });
    if (!result.ok) {
      say(`${titleOf(card)}: ${result.message}`, true);
      return false;
    }
    card.dataset.status = decision;
    card.querySelector(".decision").textContent = DECISIONS[decision];
    say(`${DECISIONS[decision]}: ${titleOf(card)}`);
    return true;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const card = form.closest(".card");
    if (!card) return;
    event.preventDefault();
    const button = event.submitter;
    form.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      if (form.classList.contains("decide") || form.classList.contains("undo")) {
        await decide(card, form, button.value);
        return;
      }
      const result = await send(form);
      const isLine = form.classList.contains("line");
      if (isLine) sayOnCard(card, "", false);
      if (!result.ok) {
        // A refused line is said beside its form, where the editor is looking.
        if (isLine) sayOnCard(card, `Not saved: ${result.message}`, true);
        say(`${titleOf(card)}: ${result.message}`, true);
        return;
      }
      if (isLine) {
        form.closest("details").open = false;
        const title = form.querySelector("[name=title]").value.trim();
        const link = card.querySelector("h2 a") || card.querySelector("h2");
        link.textContent = title;
        const saved = `Line saved: ${form.querySelector(".preview").textContent.replace(/^The line will read: /, "")}`;
        sayOnCard(card, saved, false);
        say(saved);
      } else if (form.classList.contains("chip")) {
        const slug = form.querySelector("input[name=theme]").value;
        const option = document.createElement("option");
        option.value = slug;
        option.textContent = form.querySelector("span").textContent;
        card.querySelector(".add-theme select").appendChild(option);
        form.remove();
        say(`${result.message}: ${titleOf(card)}`);
      } else if (form.classList.contains("add-theme")) {
        addChip(card, form);
        say(`${result.message}: ${titleOf(card)}`);
      }
    } finally {
      form.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  });

  function addChip(card, form) {
    const select = form.querySelector("select");
    const slug = select.value;
    const name = label(select, slug);
    const chip = document.getElementById("chip-template").content.firstElementChild.cloneNode(true);
    chip.querySelector("input[name=id]").value = card.dataset.id;
    chip.querySelector("input[name=theme]").value = slug;
    chip.querySelector("span").textContent = name;
    const remove = chip.querySelector("button");
    remove.title = `Remove the theme ${name}`;
    remove.setAttribute("aria-label", `Remove ${name}`);
    form.before(chip);
    select.querySelector(`option[value="${CSS.escape(slug)}"]`).remove();
  }

  // "Reject all shown": the folded tail's undecided cards, one audited decision each.
  document.querySelectorAll(".reject-all").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const cards = Array.from(button.closest("details").querySelectorAll(".card[data-status=new]"));
      button.disabled = true;
      let done = 0;
      for (const card of cards) {
        if (await decide(card, card.querySelector("form.decide"), "rejected")) done += 1;
      }
      button.disabled = false;
      say(`Rejected ${done} of ${cards.length} unlikely candidates; undo any of them below.`, done !== cards.length);
    });
  });

  // Keys: j/k move between the cards shown, a/r decide, u undoes, e opens the line's editor.
  let current = null;
  function visibleCards() {
    return Array.from(document.querySelectorAll(".card")).filter((card) => card.offsetParent !== null);
  }
  function focusCard(card) {
    if (!card) return;
    if (current) current.classList.remove("current");
    current = card;
    card.classList.add("current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, [contenteditable]")) return;
    const cards = visibleCards();
    const index = cards.indexOf(current);
    const key = event.key;
    if (key === "j" || key === "k") {
      focusCard(cards[key === "j" ? Math.min(index + 1, cards.length - 1) : Math.max(index - 1, 0)]);
    } else if (current && (key === "a" || key === "r")) {
      if (current.dataset.status === "new") {
        const decided = current;
        decided.querySelector(`form.decide button.${key === "a" ? "accept" : "reject"}`).click();
        // On to the next card still to decide (after this one, else the first before it).
        const undecided = (card) => card !== decided && card.dataset.status === "new";
        focusCard(cards.slice(index + 1).find(undecided) || cards.slice(0, index).find(undecided));
      }
    } else if (current && key === "u") {
      if (current.dataset.status !== "new") current.querySelector("form.undo button").click();
    } else if (current && key === "e") {
      const details = current.querySelector("details.edit-line");
      details.open = true;
      details.querySelector("[name=verb]").focus();
    } else {
      return;
    }
    event.preventDefault();
  });
})();
