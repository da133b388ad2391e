// The lessons' index: only the shared style (it runs no VM).
import './lesson.css';
