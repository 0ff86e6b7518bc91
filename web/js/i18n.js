// The page's words, in English and Russian. The language follows the
// browser's (navigator.language starting with "ru" → Russian).

const strings = {
  en: {
    appName: 'Scribe',
    tagline: 'Chat with your documents',
    email: 'Email',
    password: 'Password',
    passwordHint: 'At least 8 characters.',
    login: 'Log in',
    register: 'Register',
    logout: 'Log out',
    conversations: 'Conversations',
    newConversation: 'New conversation',
    untitled: 'Untitled',
    rename: 'Rename',
    renameTo: 'New title',
    renameOf: (title) => `Rename “${title}”`,
    delete: 'Delete',
    deleteOf: (title) => `Delete “${title}”`,
    confirmDelete: (title) => `Delete the conversation “${title}”? This cannot be undone.`,
    save: 'Save',
    cancel: 'Cancel',
    noConversations: 'No conversations yet.',
    emptyChat: 'Ask a question, or drop files here to have them read.',
    pickConversation: 'Start a new conversation or pick one on the left.',
    messages: 'Messages',
    chatPlaceholder: 'Ask about your documents…',
    composerHint: 'Enter sends, Shift+Enter starts a new line.',
    chatLabel: 'Message',
    send: 'Send',
    attach: 'Attach files',
    dropHere: 'Drop files to upload them',
    you: 'You',
    assistant: 'Scribe',
    waiting: 'Waiting',
    reading: 'Reading',
    pageOf: (n, m) => `page ${n} of ${m}`,
    answering: 'Answering',
    thinking: 'Thinking…',
    failed: 'Failed',
    retry: 'Retry',
    recognisedText: 'Recognised text',
    sources: 'Sources',
    pageShort: (n) => `p. ${n}`,
    pageLong: (n) => `page ${n}`,
    pageUnknown: 'The page is not known; these are the opening words of the passage the answer drew on.',
    close: 'Close',
    pages: (n) => (n === 1 ? '1 page' : `${n} pages`),
    networkError: 'The server could not be reached. Check your connection and try again.',
    genericError: 'Something went wrong. Please try again.',
    sessionExpired: 'Your session has ended; please log in again.',
    reconnecting: 'Live updates interrupted; reconnecting…',
    loading: 'Loading…',
    signedInAs: 'Signed in as',
    closeError: 'Dismiss',
    openMenu: 'Conversations',
  },
  ru: {
    appName: 'Scribe',
    tagline: 'Беседа с вашими документами',
    email: 'Электронная почта',
    password: 'Пароль',
    passwordHint: 'Не короче 8 символов.',
    login: 'Войти',
    register: 'Зарегистрироваться',
    logout: 'Выйти',
    conversations: 'Беседы',
    newConversation: 'Новая беседа',
    untitled: 'Без названия',
    rename: 'Переименовать',
    renameTo: 'Новое название',
    renameOf: (title) => `Переименовать «${title}»`,
    delete: 'Удалить',
    deleteOf: (title) => `Удалить «${title}»`,
    confirmDelete: (title) => `Удалить беседу «${title}»? Это нельзя отменить.`,
    save: 'Сохранить',
    cancel: 'Отмена',
    noConversations: 'Бесед пока нет.',
    emptyChat: 'Задайте вопрос или перетащите сюда файлы, чтобы их прочитать.',
    pickConversation: 'Начните новую беседу или выберите её слева.',
    messages: 'Сообщения',
    chatPlaceholder: 'Спросите о документах…',
    composerHint: 'Enter — отправить, Shift+Enter — новая строка.',
    chatLabel: 'Сообщение',
    send: 'Отправить',
    attach: 'Прикрепить файлы',
    dropHere: 'Отпустите файлы, чтобы загрузить их',
    you: 'Вы',
    assistant: 'Scribe',
    waiting: 'Ожидание',
    reading: 'Чтение',
    pageOf: (n, m) => `страница ${n} из ${m}`,
    answering: 'Ответ готовится',
    thinking: 'Думаю…',
    failed: 'Ошибка',
    retry: 'Повторить',
    recognisedText: 'Распознанный текст',
    sources: 'Источники',
    pageShort: (n) => `с. ${n}`,
    pageLong: (n) => `страница ${n}`,
    pageUnknown: 'Страница неизвестна; это начало фрагмента, на который опирается ответ.',
    close: 'Закрыть',
    pages: (n) => {
      const d = n % 10, h = n % 100;
      if (d === 1 && h !== 11) return `${n} страница`;
      if (d >= 2 && d <= 4 && (h < 12 || h > 14)) return `${n} страницы`;
      return `${n} страниц`;
    },
    networkError: 'Сервер недоступен. Проверьте подключение и попробуйте ещё раз.',
    genericError: 'Что-то пошло не так. Попробуйте ещё раз.',
    sessionExpired: 'Сеанс завершён; войдите снова.',
    reconnecting: 'Обновления прервались; переподключаюсь…',
    loading: 'Загрузка…',
    signedInAs: 'Вы вошли как',
    closeError: 'Закрыть',
    openMenu: 'Беседы',
  },
};

export const lang = (navigator.language || 'en').toLowerCase().startsWith('ru') ? 'ru' : 'en';

/** The string for `key` in the page's language (functions are called with `args`). */
export function t(key, ...args) {
  const value = strings[lang][key] ?? strings.en[key] ?? key;
  return typeof value === 'function' ? value(...args) : value;
}

/** Fills every `data-i18n` (text), `data-i18n-placeholder`, `data-i18n-label` (aria-label) and `data-i18n-title`. */
export function translatePage(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}
