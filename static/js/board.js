// The project board (templates/projects/board.html): drag and drop with SortableJS, the
// same moves from the keyboard, the card panel, filters that apply themselves.
// Every move posts the card's move URL with the column it is now in and the card it now
// follows; the server answers with the column heads (counts, WIP warnings) out of band.
// Without JavaScript the board still works: cards are links to their own page, which
// has a Move form, and quick-add and the filters are plain forms.
(() => {
  const boardEl = () => document.getElementById("board");
  if (!boardEl()) return;
  const panel = document.getElementById("card-panel");
  const status = document.getElementById("board-status");
  const filters = document.getElementById("board-filters");
  const writable = () => boardEl()?.dataset.writable === "1";
  const boardUrl = () => boardEl().dataset.boardUrl;
  let opener = null; // the card link that opened the panel, to return focus to
  let statusTimer = 0;

  const say = (text) => {
    // The live region doubles as a small toast; it empties itself after a while.
    status.textContent = text;
    window.clearTimeout(statusTimer);
    statusTimer = window.setTimeout(() => { status.textContent = ""; }, 5000);
  };
  const cardsOf = (list) => [...list.children].filter((el) => el.classList.contains("task-card"));
  const cellsOfLane = (cell) =>
    [...boardEl().querySelectorAll(".cell")].filter((c) => c.dataset.lane === cell.dataset.lane);

  // ---- Moving a card: after a drop or a key, the DOM already shows the new place ----
  function sendMove(card) {
    const cell = card.closest(".cell");
    let previous = card.previousElementSibling;
    while (previous && !previous.classList.contains("task-card")) previous = previous.previousElementSibling;
    card.classList.toggle("is-done", cell.classList.contains("is-done"));
    htmx.ajax("POST", `${boardUrl()}tasks/${card.dataset.id}/move/`, {
      source: card,
      swap: "none",
      values: { column: cell.dataset.column, after: previous ? previous.dataset.id : "" },
    });
  }

  function refreshGrid() {
    // A refused move: show the board as the server has it.
    htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#board", select: "#board", swap: "outerHTML",
    });
  }

  // ---- Drag and drop: one Sortable per cell; with swimlanes a card stays in its lane
  // (moving it to another lane would silently reassign it) ----
  htmx.onLoad((root) => {
    if (!writable() || typeof Sortable === "undefined") return;
    const lists = root.matches?.(".board-cards") ? [root] : [...root.querySelectorAll(".board-cards")];
    for (const list of lists) {
      if (list.dataset.sortable) continue;
      list.dataset.sortable = "1";
      const lane = list.closest(".cell").dataset.lane;
      Sortable.create(list, {
        group: boardEl().dataset.lanes ? `lane-${lane}` : "board",
        draggable: ".task-card",
        animation: 120,
        // Mouse and touch events rather than the HTML5 drag API: the same in every
        // browser, and a click on the title still opens the card.
        forceFallback: true,
        fallbackTolerance: 4,
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        dragClass: "is-dragging",
        onEnd: (event) => {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          sendMove(event.item);
        },
      });
    }
  });

  // ---- Keyboard: arrows go from card to card; [ ] and Alt+arrows move the card ----
  function focusCard(card) {
    if (!card) return false;
    const link = card.querySelector(".card-title");
    link.focus();
    card.scrollIntoView({ block: "nearest", inline: "nearest" });
    return true;
  }

  function neighbourCell(cell, step) {
    const cells = cellsOfLane(cell);
    return cells[cells.indexOf(cell) + step] || null;
  }

  function moveWithin(card, step) {
    const cards = cardsOf(card.parentElement);
    const index = cards.indexOf(card);
    const other = cards[index + step];
    if (!other) return;
    if (step < 0) other.before(card); else other.after(card);
    focusCard(card);
    sendMove(card);
  }

  function moveAcross(card, step) {
    const target = neighbourCell(card.closest(".cell"), step);
    if (!target) return;
    // To the top of the next column, where the eye (and the focus) follows it.
    target.querySelector(".board-cards").prepend(card);
    focusCard(card);
    sendMove(card);
  }

  function goAcross(card, step) {
    const index = cardsOf(card.parentElement).indexOf(card);
    let cell = neighbourCell(card.closest(".cell"), step);
    while (cell) {
      const cards = cardsOf(cell.querySelector(".board-cards"));
      if (cards.length) return focusCard(cards[Math.min(index, cards.length - 1)]);
      cell = neighbourCell(cell, step);
    }
    return false;
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panel.childElementCount) {
      if (event.target.closest("input, textarea, select")) return;
      closePanel();
      event.preventDefault();
      return;
    }
    const link = event.target.closest?.("#board .card-title");
    // [ and ] may need AltGr (Ctrl+Alt) on some keyboards: take them with any modifier.
    const bracket = event.key === "[" || event.key === "]";
    if (!link || (!bracket && (event.ctrlKey || event.metaKey))) return;
    const card = link.closest(".task-card");
    const cards = cardsOf(card.parentElement);
    const index = cards.indexOf(card);
    if (event.altKey && !bracket) {
      if (!writable()) return;
      if (event.key === "ArrowUp") moveWithin(card, -1);
      else if (event.key === "ArrowDown") moveWithin(card, +1);
      else return;
    } else {
      switch (event.key) {
        case "ArrowUp": focusCard(cards[index - 1]); break;
        case "ArrowDown": focusCard(cards[index + 1]); break;
        case "ArrowLeft": goAcross(card, -1); break;
        case "ArrowRight": goAcross(card, +1); break;
        case "[": if (writable()) moveAcross(card, -1); else return; break;
        case "]": if (writable()) moveAcross(card, +1); else return; break;
        default: return;
      }
    }
    event.preventDefault();
  });

  // ---- The card panel: a card's page, fetched into the side panel ----
  function openPanel(url, from) {
    opener = from || opener;
    htmx.ajax("GET", url, { target: "#card-panel", swap: "innerHTML" });
  }

  function closePanel() {
    panel.replaceChildren();
    document.body.classList.remove("drawer-open");
    if (opener && document.contains(opener)) opener.focus();
    else if (opener) focusCard(document.getElementById(opener.closest(".task-card")?.id));
  }

  document.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const close = event.target.closest("[data-close-drawer]");
    if (close) {
      event.preventDefault();
      closePanel();
      return;
    }
    const link = event.target.closest("#board .card-title, #card-panel .dep-task");
    if (!link) return;
    event.preventDefault();
    openPanel(link.href, link.classList.contains("card-title") ? link : null);
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== panel) return;
    document.body.classList.add("drawer-open");
    const title = document.getElementById("drawer-title");
    // Focus moves into the panel when it opens, not after each save inside it.
    if (title && !panel.contains(event.detail.requestConfig?.elt)) {
      title.setAttribute("tabindex", "-1");
      title.focus();
    }
  });

  // ---- Answers that carry a message for the user: show them where they belong ----
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const { xhr, target } = event.detail;
    const onBoard = target && (target.closest("#card-panel") || target.closest("#board"));
    if (onBoard && (xhr.status === 400 || xhr.status === 409)) {
      // A form shown again with its errors (400) or with the draft kept beside someone
      // else's change (409): swap it in instead of the generic error alert.
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    const path = event.detail.requestConfig?.path || "";
    if (!/\/move\/$/.test(path)) return;
    if (event.detail.xhr.status >= 400) refreshGrid();
  });

  document.body.addEventListener("htmx:afterSettle", () => {
    if (status.textContent.trim()) say(status.textContent.trim());
  });

  // ---- Filters apply on change; Enter in the text box submits as usual ----
  filters?.addEventListener("change", (event) => {
    if (event.target.matches("select")) filters.requestSubmit();
  });
})();
